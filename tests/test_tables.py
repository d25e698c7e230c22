"Label parsing and the table readers on generated tables (hypothesis): round trips, and only mlic's own clear errors."
import csv, string
from hypothesis import given, settings, strategies as st, HealthCheck
from mlic.datasets import read_label_csv, from_dict, _split_labels, check_dataset

label = st.text(string.ascii_letters + string.digits + '_-', min_size=1, max_size=12)
labels = st.lists(label, max_size=6)
delims = st.sampled_from([' ', ';', '|', ','])

@given(labels, delims, st.sampled_from(['', ' ', '  ']))
def test_split_labels_round_trip(ls, delim, pad):
    cell = (pad + delim + pad).join(ls) if delim != ' ' else (' ' + pad).join(ls)
    assert _split_labels(cell, delim) == list(dict.fromkeys(ls))

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(labels, min_size=1, max_size=8), delims, st.sampled_from([',', ';', '\t']))
def test_csv_round_trip(tmp_path, rows, ldelim, sep):
    if ldelim == sep: ldelim = '|'
    f = tmp_path/'t.csv'
    with open(f, 'w', newline='') as fh:
        w = csv.writer(fh, delimiter=sep)
        w.writerow(['fname', 'labels', 'is_valid'])
        for i, ls in enumerate(rows): w.writerow([f'img_{i}.jpg', ldelim.join(ls), i % 2 == 1])
    df = read_label_csv(f, label_delim=ldelim, split_col='is_valid')
    assert [l.split() for l in df.labels] == [list(dict.fromkeys(ls)) for ls in rows]
    assert df.split.tolist() == ['valid' if i % 2 else 'train' for i in range(len(rows))]
    assert df.attrs['vocab'] == sorted({l for ls in rows for l in ls})

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200))
def test_arbitrary_csv_text_gives_a_table_or_a_clear_error(tmp_path, text):
    f = tmp_path/'x.csv'
    f.write_text(text)
    try: df = read_label_csv(f)
    except (ValueError, KeyError) as e: assert str(e)  # mlic's own message (no column, empty file, parse error)
    else: check_dataset(df, images=False)  # and a table it reads can be checked

@given(st.dictionaries(st.text(string.ascii_lowercase, min_size=1, max_size=8).map(lambda s: s + '.jpg'), labels, min_size=1, max_size=10))
def test_from_dict_keeps_every_image_and_label(d):
    df = from_dict(d)
    assert df.path.tolist() == list(d) and [l.split() for l in df.labels] == [list(dict.fromkeys(v)) for v in d.values()]
