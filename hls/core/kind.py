"""Layer kinds: the interface each kind implements and the registry the stages look kinds up in.

A kind (conv2d, relu, ...) is one module in lenet5_hls.kinds holding everything about it: how it is read
from the hls4ml graph, its spec fields and validation, its golden function, its folding plan and its RTL
stages. The stages before `kinds` (spec, frontend, golden, rtl) only call the registry, so adding a kind
touches its module and its tests. Importing lenet5_hls fills the registry (lenet5_hls/__init__.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from lenet5_hls.core.errors import UserError

if TYPE_CHECKING:  # spec imports this module; the rtl classes a kind uses are not imported: core comes first
    import numpy as np

    from lenet5_hls.core.fixed_point import FixedType
    from lenet5_hls.core.spec import Layer, Spec


class UnknownKind(UserError):
    """A layer kind no module registered."""


class LayerKind(ABC):
    """One layer kind through every stage; subclasses set the class attributes and are registered with @register."""

    name: str  # the spec's kind string
    hls4ml_classes: tuple[str, ...] = ()  # hls4ml class_name values whose layers `extract` reads
    # Several kinds share a class (Activation): the values of its `activation` attribute this kind reads;
    # empty = every layer of its classes.
    hls4ml_activations: tuple[str, ...] = ()
    # Required spec fields, checked by spec.validate before `check`; each array is checked against its type.
    attrs: tuple[str, ...] = ()
    types: tuple[str, ...] = ('input', 'output')
    arrays: tuple[str, ...] = ()
    # False where Keras computes in float what the hardware computes exactly (the tables of sigmoid, tanh and
    # softmax; batchnorm's x * scale + bias in float32): then even HGQ2 models differ from Keras
    # (reports.keras_parity).
    keras_exact: bool = True
    # True where the layer's RTL is built into the next layer's (zero padding into the convolution's window
    # generator): the next layer's RTL then takes this layer's input stream.
    builds_into_next: bool = False

    def extract(self, hls_layer, common: dict, types: dict[str, FixedType], input_type: FixedType) -> Layer | None:
        """The spec layer for an hls4ml layer (common: name, shapes, beats, stream; types: input and output),
        or None for a layer that computes nothing (it is left out of the spec)."""
        raise NotImplementedError(f'kind {self.name} is not read from hls4ml graphs')

    def check(self, layer: Layer, where: str) -> None:  # noqa: B027 - optional; by default nothing more to check
        """Kind-specific validation (shapes, attribute values) after spec.validate found the required fields;
        raises SpecError naming the field."""

    @abstractmethod
    def golden(self, x: np.ndarray, layer: Layer) -> np.ndarray:
        """Raw outputs for raw inputs x (N, *input_shape), bit-exact to the hls4ml C++."""

    @abstractmethod
    def plan(self, layer: Layer, target_ii: int, override: int | None, beats_in: int):
        """The layer's rtl.folding.LayerPlan (multipliers, cycles per image) for the target II; override: the
        multipliers asked for on the command line (a layer without multipliers ignores it; folding reports it);
        beats_in: beats per image of the stream its RTL takes (rtl.folding.plan)."""

    def check_rtl(self, spec: Spec, index: int, where: str) -> None:  # noqa: B027 - optional; by default buildable
        """Reject a spec.layers[index] the RTL cannot build (raises RtlGenerationError)."""

    @abstractmethod
    def emit(self, design, layer: Layer, index: int) -> None:
        """Append the layer's stages to the rtl.generator.Design (index: its position in design.spec.layers)."""


KINDS: dict[str, LayerKind] = {}  # spec kind string -> kind, in registration order
# (hls4ml class_name, activation or None for any) -> the kind whose extract reads such layers
HLS4ML_READERS: dict[tuple[str, str | None], LayerKind] = {}


def register(cls: type[LayerKind]) -> type[LayerKind]:
    """Class decorator: add one instance of the kind to KINDS and HLS4ML_READERS; names must be unique."""
    instance = cls()
    if cls.name in KINDS:
        raise ValueError(f'layer kind {cls.name!r} is registered twice')
    keys = [(c, a) for c in cls.hls4ml_classes for a in cls.hls4ml_activations or (None,)]
    claimed = [k for k in keys if k in HLS4ML_READERS or (k[0], None) in HLS4ML_READERS]
    if claimed:
        raise ValueError(f'layer kind {cls.name!r}: hls4ml layers {claimed} are already read by another kind')
    KINDS[cls.name] = instance
    HLS4ML_READERS.update(dict.fromkeys(keys, instance))
    return cls


def reader(class_name: str, activation: str | None) -> LayerKind | None:
    """The kind that reads an hls4ml layer of this class (and `activation` attribute, lower case), if any."""
    return HLS4ML_READERS.get((class_name, activation)) or HLS4ML_READERS.get((class_name, None))


def readable() -> str:
    """The hls4ml layers some kind reads, for error messages: 'Conv2D, Activation(relu, tanh), ...'."""
    by_class: dict[str, list[str]] = {}
    for c, a in HLS4ML_READERS:
        by_class.setdefault(c, []).extend([a] if a else [])
    return ', '.join(f'{c}({", ".join(acts)})' if acts else c for c, acts in by_class.items())


def kind(name: str) -> LayerKind:
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownKind(f'{name!r} is not supported; supported kinds: {", ".join(KINDS)}') from None
