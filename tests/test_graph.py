from migration_lint.graph import Revision, RevisionGraph, after

import pytest


def graph(*specs):
    revs = []
    for spec in specs:
        rev, parents = spec[0], spec[1]
        labels = spec[2] if len(spec) > 2 else ()
        depends = spec[3] if len(spec) > 3 else ()
        revs.append(Revision(rev, tuple(parents), tuple(labels), tuple(depends), f"{rev}.py"))
    return RevisionGraph.build(revs)


def test_linear_history():
    g = graph(("a", ()), ("b", ("a",)), ("c", ("b",)))
    assert g.heads == ["c"]
    assert g.bases == ["a"]
    assert g.topological_order() == ["a", "b", "c"]
    assert not g.cycles and not g.missing_parents and not g.duplicates


def test_branch_and_merge():
    g = graph(("a", ()), ("b", ("a",)), ("c", ("a",)), ("m", ("b", "c")))
    assert g.heads == ["m"]
    assert g.branch_points == ["a"]
    assert g.merge_points == ["m"]
    order = g.topological_order()
    assert order.index("m") > order.index("b") and order.index("m") > order.index("c")
    assert g.ancestors("m") == {"a", "b", "c"}
    assert g.descendants("a") == {"b", "c", "m"}


def test_multiple_heads_and_labels():
    g = graph(("base", ()), ("e1", ("base",), ("expand",)), ("e2", ("e1",)), ("c1", ("base",), ("contract",)))
    assert g.heads == ["c1", "e2"]
    assert g.labels_of("e2") == {"expand"}
    assert g.labels_of("c1") == {"contract"}


def test_dangling_parent_and_depends_on():
    g = graph(("a", ()), ("b", ("zzz",)), ("c", ("a",), (), ("nope",)), ("d", ("a",), (), ("a",)))
    missing = {(rev.revision, parent, field) for rev, parent, field in g.missing_parents}
    assert missing == {("b", "zzz", "down_revision"), ("c", "nope", "depends_on")}


def test_depends_on_accepts_label_and_unique_prefix():
    g = graph(("abcdef12", ()), ("b", ("abcdef12",), ("feature",)), ("c", ("b",), (), ("abcd", "feature")))
    assert g.missing_parents == []


def test_duplicates_keep_first_and_record_all():
    g = graph(("a", ()), ("b", ("a",)), ("b", ("a",)))
    assert list(g.duplicates) == ["b"]
    assert len(g.duplicates["b"]) == 2


def test_cycles_found_and_order_still_total():
    g = graph(("a", ()), ("b", ("a", "d")), ("c", ("b",)), ("d", ("c",)), ("self", ("self",)))
    assert sorted(g.cycles) == [["b", "c", "d"], ["self"]]
    assert sorted(g.topological_order()) == sorted(["a", "b", "c", "d", "self"])


def test_after_start_revision():
    g = graph(("a", ()), ("b", ("a",)), ("c", ("b",)))
    assert after(g, "a") == {"b", "c"}
    assert after(g, None) is None
    with pytest.raises(KeyError):
        after(g, "zz")


def test_deep_history_does_not_recurse():
    revs = [("r0", ())] + [(f"r{i}", (f"r{i-1}",)) for i in range(1, 5000)]
    g = graph(*revs)
    assert g.heads == ["r4999"]
    assert len(g.topological_order()) == 5000
