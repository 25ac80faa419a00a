"""A printed script makes its lab folder whenever a command reads $LAB, quoted or not (a here-document's JSON
writes $LAB/… without quotes)."""

from netlessons.script import uses_lab


def test_lab_variable_is_seen_quoted_bare_and_braced():
    assert uses_lab('cat "$LAB"/x')
    assert uses_lab('cat <<EOF\n{"path": "$LAB/ptp.json"}\nEOF')
    assert uses_lab("echo ${LAB}/x")
    assert not uses_lab("echo $LABEL and LAB")
