"""Simulator build cache keys: content, options and the toolchain a build links against."""

from lenet5_hls.verify import sim_runner


def test_build_key_covers_sources_options_and_toolchain(tmp_path, monkeypatch):
    src = tmp_path / 'a.v'
    src.write_text('module a; endmodule\n')

    def key(**changes):
        args = {'sim': 'icarus', 'toplevel': 'a', 'sources': [src], 'parameters': {}, 'build_args': [], 'waves': False}
        return sim_runner.build_key(**(args | changes))

    here = key()
    assert key() == here
    assert key(parameters={'N': 2}) != here and key(waves=True) != here
    moved = tmp_path / 'elsewhere' / 'a.v'  # the same content at another path: the same build
    moved.parent.mkdir()
    moved.write_text(src.read_text())
    assert key(sources=[moved]) == here
    # a build made in another environment (another cocotb or simulator install) is not reused
    monkeypatch.setattr(sim_runner, 'toolchain', lambda sim: ['/other/iverilog', '/other/venv/cocotb_tools/libs'])
    assert key() != here
