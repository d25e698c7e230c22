"The data layer on the full shared subset, and on bad inputs."
import shutil
from pathlib import Path
import pytest
from mlic.data import VOC_CLASSES, multilabel_dls, bundled_data
from mlic.datasets import (read_pascal_csv, read_vocdevkit, read_pets, read_label_csv, read_dataset, detect_layout,
                           check_dataset, label_counts)

def _sets(df): return {Path(p).name: (frozenset(l.split()), s) for p, l, s in zip(df.path, df.labels, df.split)}

def test_both_voc_layouts_agree_on_all_994_shared_images(shared):
    voc = shared/'data'/'voc2007'
    csv, xml = read_pascal_csv(voc), read_vocdevkit(voc/'VOCdevkit')
    assert len(csv) == len(xml) == 994
    assert _sets(csv) == _sets(xml)
    assert csv.split.value_counts().to_dict() == {'train': 506, 'valid': 488}
    assert all(Path(p).exists() for p in xml.path)

def test_difficult_drop_matches_imagesets_positives(shared):
    "With difficult='drop', a label is exactly a `1` in ImageSets/Main/{class}_trainval.txt."
    main = shared/'data'/'voc2007'/'VOCdevkit'/'VOC2007'/'ImageSets'/'Main'
    pos = {}
    for c in VOC_CLASSES:
        for line in (main/f'{c}_trainval.txt').read_text().split('\n'):
            if line.split() and line.split()[1] == '1': pos.setdefault(line.split()[0], set()).add(c)
    df = read_vocdevkit(main.parent.parent, difficult='drop')
    assert {Path(p).stem: set(l.split()) for p, l in zip(df.path, df.labels)} == {i: pos.get(i, set()) for i in map(lambda p: Path(p).stem, df.path)}

def test_shared_pets(shared):
    df = read_pets(shared/'data'/'pets')
    assert len(df) == 296 and len(df.attrs['vocab']) == 37
    assert (df.groupby('labels').split.apply(lambda s: (s == 'valid').sum()) == 2).all()  # 20% of 8, per breed

def test_shared_voc_is_clean_and_loads(shared):
    df = read_dataset(shared/'data'/'voc2007')
    assert check_dataset(df).empty
    assert label_counts(df).loc['bird', 'train'] == 0  # the validation-only class that breaks fastai's default
    dls = multilabel_dls(df, bs=8, num_workers=0)
    assert dls.vocab == VOC_CLASSES and dls.one_batch()[1].shape == (8, 20)

def test_bundled_sample_fits_and_is_documented():
    d = bundled_data()
    size = sum(f.stat().st_size for f in d.rglob('*') if f.is_file())
    assert size < 10*2**20, f'data/ is {size/2**20:.1f} MB'
    assert 'Licence' in (d/'README.md').read_text() and len(read_dataset(d/'voc2007')) == 200

@pytest.mark.parametrize('make, message', [
    (lambda t: t/'nothing', 'No data set at'),
    (lambda t: (t/'empty').mkdir() or t/'empty', 'Cannot tell the layout'),
])
def test_unknown_layouts_are_clear_errors(tmp_path, make, message):
    with pytest.raises((FileNotFoundError, ValueError), match=message): detect_layout(make(tmp_path))

def test_voc_without_imagesets_means_all_annotated_images(tmp_path):
    src = bundled_data()/'voc2007'/'VOCdevkit'/'VOC2007'
    shutil.copytree(src/'Annotations', tmp_path/'Annotations'); shutil.copytree(src/'JPEGImages', tmp_path/'JPEGImages')
    df = read_dataset(tmp_path)
    assert len(df) == 200 and set(df.split) == {'train', 'valid'}

def test_csv_with_problems_reports_all_of_them(tmp_path):
    img = next((bundled_data()/'pets'/'images').glob('*.jpg'))
    shutil.copy(img, tmp_path/'ok.jpg'); (tmp_path/'zero.jpg').touch()
    (tmp_path/'d.csv').write_text('f,l\nok.jpg,cat\nzero.jpg,dog\nmissing.jpg,cat\nok.jpg,cat\nok.jpg,\n')
    df = read_label_csv(tmp_path/'d.csv', 'f', 'l')
    rep = check_dataset(df, vocab=['cat'])
    got = {(r.row, r.problem.split(':')[0]) for r in rep.itertuples()}
    assert got == {(1, 'zero-byte file'), (1, 'label outside the vocabulary'), (2, 'missing file'),
                   (3, 'duplicate of row 0'), (4, 'duplicate of row 0'), (4, 'empty label list')}

def test_csv_missing_column_names_the_columns(tmp_path):
    (tmp_path/'d.csv').write_text('file,tags\na.jpg,x\n')
    with pytest.raises(KeyError, match=r"no column 'fname'.*\['file', 'tags'\]"): read_label_csv(tmp_path/'d.csv')
