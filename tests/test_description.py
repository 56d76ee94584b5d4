"""The RTL description (rtl/description.py): what the generator writes loads back equal, paths stay relative
to the description's directory, and a corrupted or outdated file fails naming the field."""

import json

import pytest

from lenet5_hls.core.errors import UserError
from lenet5_hls.rtl.description import SCHEMA, VERSION, DescriptionError, RtlDescription
from lenet5_hls.rtl.generator import generate
from test_spec import tiny_spec


@pytest.fixture
def rtl(tmp_path):
    generate(tiny_spec(), tmp_path / 'rtl')
    return tmp_path / 'rtl' / 'tiny.json'


def test_round_trip_with_relative_paths(rtl, tmp_path):
    desc = RtlDescription.load(rtl)
    doc = json.loads(rtl.read_text())
    assert (doc['schema'], doc['version']) == (SCHEMA, VERSION) == ('lenet5-hls/rtl-description', 2)
    assert json.loads(json.dumps(desc.to_json())) == doc and desc.base_dir == rtl.parent
    assert desc.top_file == 'tiny.v' and all(not f.startswith('/') for f in desc.files)
    assert [s.in_stream for s in desc.stages[:2]] == ['s0', 's1']
    assert desc.stages[-1].out_stream == f's{len(desc.stages)}'
    mac = next(s for s in desc.stages if s.instance == 'fc_mac')
    assert mac.params['WEIGHT_FILE'] == '"mem/fc_weights.mem"' and mac.file_params == ['WEIGHT_FILE', 'BIAS_FILE']
    assert '.WEIGHT_FILE("mem/fc_weights.mem")' in desc.path(desc.top_file).read_text()
    resolved = next(i for i in desc.instances() if i.instance == 'fc_mac')
    assert resolved.files()['WEIGHT_FILE'] == rtl.parent / 'mem' / 'fc_weights.mem'
    assert [i.instance for i in desc.instances()][:2] == ['ctrl', 'conv_window']
    # saved elsewhere: the paths are rewritten relative to the new place and still name the same files
    other = RtlDescription.load(desc.save(tmp_path / 'elsewhere' / 'd.json'))
    assert other.files[0].startswith('../rtl/') and other.source_files() == desc.source_files()
    assert other.instances() == desc.instances()
    desc.copy_data_files(tmp_path / 'run')
    rom = 'mem/fc_weights.mem'
    assert (tmp_path / 'run' / rom).read_text() == (rtl.parent / rom).read_text()


def _set(doc, path, value):
    *keys, last = path
    for k in keys:
        doc = doc[k]
    doc[last] = value


# field path, corrupted value, expected message after 'rtl-description'
CORRUPTIONS = {
    'int-as-string': (('input', 'lanes', 0, 'tdata_width'), '8', r'\.input\.lanes\[0\]\.tdata_width: expected an int'),
    'bad-width': (('output', 'lanes', 0, 'tdata_width'), 36, r'\.output\.lanes\[0\]\.tdata_width: 3 x 12 bits'),
    'bad-rounding': (('input', 'type', 'rounding'), 'NEAREST', r"\.input\.type: rounding mode 'NEAREST' unknown"),
    'unknown-field': (('stages', 0, 'colour'), 'red', r'\.stages\[0\]: unknown field\(s\) colour'),
    'broken-chain': (('stages', 1, 'in_stream'), 's9', r"\.stages\[1\] \(\w+\)\.in_stream: 's9', but the previous"),
    'unquoted-file': (
        ('stages', -1, 'params', 'BIAS_FILE'),
        'mem/fc_biases.mem',
        r'\.stages\[\d+\] \(fc_mac\)\.params\.BIAS_FILE: a file parameter needs a quoted path',
    ),
    'escaping-read-as': (('data_files', 0, 'read_as'), '../w.mem', r"\.data_files\[0\]\.read_as: '\.\./w\.mem' must"),
    'version': (('version',), 1, r'\.version: this tool reads version 2, the file is version 1; regenerate'),
    'schema': (('schema',), 'lenet5-hls/pipeline-spec', r'\.schema: .*not a lenet5-hls RTL description'),
}


@pytest.mark.parametrize('case', CORRUPTIONS, ids=list(CORRUPTIONS))
def test_corrupted_field_is_named(rtl, case):
    path, value, message = CORRUPTIONS[case]
    doc = json.loads(rtl.read_text())
    _set(doc, path, value)
    rtl.write_text(json.dumps(doc))
    with pytest.raises(DescriptionError, match=rf'{rtl}: rtl-description{message}'):
        RtlDescription.load(rtl)


def test_missing_field_and_files(rtl, tmp_path):
    doc = json.loads(rtl.read_text())
    del doc['clock']
    with pytest.raises(DescriptionError, match=r"rtl-description: missing field 'clock'"):
        RtlDescription.from_json(doc)
    (rtl.parent / 'mem' / 'fc_weights.mem').unlink()
    with pytest.raises(UserError, match=r'data_files\[\d+\]\.path: .*/mem/fc_weights.mem does not exist'):
        RtlDescription.load(rtl)
    with pytest.raises(DescriptionError, match=r'RTL description .*nowhere.json not found'):
        RtlDescription.load(tmp_path / 'nowhere.json')
    rtl.write_text('{"schema": ')
    with pytest.raises(DescriptionError, match='is not valid JSON'):
        RtlDescription.load(rtl)
