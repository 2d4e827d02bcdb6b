"""gate.apischema.cel_accept: what it accepts, cel-cpp accepts; what it cannot vouch for, it leaves.

The Python evaluator only ever says "every rule passes"; then no CEL call is made. So the property
that matters is one-sided: an accepted value has no violation in cel-cpp. It is checked on every rule
node of the shipped CRDs with values drawn from their schemas, on RE2 patterns drawn from a grammar
against cel-cpp's own `matches()`, and on the values CEL cannot take that Python could (a lone
surrogate, an integer beyond int64, a field that is not there).
"""
from __future__ import annotations

import pytest

from gate.apischema import cel as apicel
from gate.apischema import cel_accept
from gate.apischema.cel_reads import project, reads_of

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import shipped_rules

pytestmark = pytest.mark.skipif(not apicel.available(), reason="cel-expr-python not installed")

PATH_RULES = [
    "(self.type in ['Exact','PathPrefix']) ? self.value.startsWith('/') : true",
    "(self.type in ['Exact','PathPrefix']) ? !self.value.contains('//') : true",
    "(self.type in ['Exact','PathPrefix']) ? !self.value.endsWith('/..') : true",
    "self.type in ['Exact','PathPrefix'] || self.type == 'RegularExpression'",
    "(self.type in ['Exact','PathPrefix']) ? self.value.matches("
    "r\"\"\"^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$\"\"\") : true",
]


def check_for(*texts: str, scalar: bool = False):
    programs = [apicel._env().compile(t) for t in texts]
    return cel_accept.node_check(programs, reads_of(programs), scalar)


def cel_cpp_accepts(texts, value) -> bool:
    for text in texts:
        try:
            if apicel._env().compile(text).eval(data={"self": value}).value() is not True:
                return False
        except Exception:  # noqa: BLE001 - an error is not a pass
            return False
    return True


def test_a_solver_route_path_is_accepted_without_cel():
    check = check_for(*PATH_RULES)
    solver = {"type": "Exact", "value": "/.well-known/acme-challenge/5ed4e4f4e2d218d2fcfb567b7de89a52cd1f"}
    assert check is not None and check(solver)
    assert cel_cpp_accepts(PATH_RULES, solver)


@pytest.mark.parametrize("value", [
    {"type": "Exact", "value": "/a//b"},  # a rule is false
    {"type": "Exact", "value": "/a b"},  # the pattern does not match
    {"type": "Exact"},  # no such key: an error in CEL
    {"type": 1, "value": "/a"},  # another type than the rules compare with
    {"type": "Exact", "value": "/\ud800"},  # not UTF-8: cel-cpp cannot take it
    {"type": "Exact", "value": "/a\x00b"},  # cel-expr-python cuts a string at NUL
    [],
    "Exact",
])
def test_what_is_not_certain_is_left_to_cel(value):
    check = check_for(*PATH_RULES)
    assert check(value) is False


def test_a_value_in_a_branch_not_taken_is_still_converted():
    # cel-cpp converts the whole projection: an integer beyond int64 in the branch not taken is an
    # error there, though no rule reaches it here.
    texts = ["self.a == 'x' ? true : self.b > 0"]
    check = check_for(*texts)
    assert check({"a": "x", "b": 1})
    assert not check({"a": "x", "b": 2 ** 70})
    assert not cel_cpp_accepts(texts, {"a": "x", "b": 2 ** 70})


def test_and_and_or_decide_on_a_decisive_side_only():
    # false && error is false in CEL: the false left side decides. An error on the left, which the
    # right side could absorb, is not taken here.
    assert check_for("!(has(self.a) && self.a.b == 1)")({}) is True
    assert check_for("self.x == 1 || true")({}) is False
    assert cel_cpp_accepts(["self.x == 1 || true"], {})


@pytest.mark.parametrize("text", [
    "self.all(x, x > 0)",  # a comprehension
    "self.a.matches(self.b)",  # a pattern that is not a constant
    "self.a == 1.5",  # a double
    "self.a + 1 == 2",  # arithmetic
    "size(self) == 2",  # a map read whole
    "self.a == b'x'",  # bytes
])
def test_what_is_outside_the_subset_is_not_compiled(text):
    assert check_for(text) is None


def test_a_check_that_seldom_passes_stops_being_tried():
    check = check_for("self.a.matches('^[a-z]*[a-z]$')")  # possessive: the last letter is never left
    assert not any(check({"a": "abc"}) for _ in range(cel_accept._TRIES + 1))
    assert check({"a": "x"}) is False


# --- every shipped rule ------------------------------------------------------------------------

ACCEPTING = [(where, node) for where, node in shipped_rules.RULE_NODES
             if (accept := apicel._acceptor(node, apicel.rules_of(node))) is not False]

# Strings the shipped rules care about, and what CEL cannot take.
_HOSTILE = st.sampled_from(["/", "//", "/a/./b", "%2f", "#", "/..", "a\ud800", "\x00", "é", " ", "/a b",
                            "*.example.com", "Exact", "PathPrefix", "RegularExpression", "Service"])
_SCALARS = shipped_rules.SCALARS | _HOSTILE | st.integers(-(2 ** 64), 2 ** 64) | st.text(max_size=12)


def test_many_shipped_rule_nodes_are_taken():
    # The route path match, URL rewrites, the addresses, BackendTLSPolicy's validation... (a node with
    # an escaped property name, `namespace`, is left to cel-cpp and the verdict memo).
    assert len(ACCEPTING) >= 6
    assert any(where.endswith("matches[].path") for where, _ in ACCEPTING)


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_accepted_value_of_a_shipped_rule_passes_in_cel_cpp(data):
    where, node = data.draw(st.sampled_from(ACCEPTING), label="rule node")
    value = data.draw(st.one_of(shipped_rules.values(node, scalars=_SCALARS), shipped_rules.ANY), label="value")
    rules = apicel.rules_of(node)
    if node.accept is None:
        node.accept = apicel._acceptor(node, rules)
    fresh = apicel._acceptor(node, rules)  # not one that stopped trying
    if fresh(value):
        out: list = []
        apicel._evaluate(node, rules, apicel.to_cel(node, project(value, apicel._reads(node, rules))), out)
        assert out == [], where


# --- RE2 patterns ------------------------------------------------------------------------------

def _matches_in_cel_cpp(pattern: str, text: str) -> bool | None:
    """cel-cpp's s.matches(p); None for an error (a pattern RE2 refuses)."""
    try:
        result = apicel._env().compile("self.s.matches(self.p)").eval(data={"self": {"s": text, "p": pattern}}).value()
    except Exception:  # noqa: BLE001
        return None
    return result if isinstance(result, bool) else None


def _python(pattern: str):
    try:
        return cel_accept._pattern(pattern)
    except cel_accept._Outside:
        return None


# A pattern drawn with a text its language holds (choosing each repetition's count and each
# alternative), so that matches are met often; the text is then also tried changed a little.
_ALPHABET = "ab-./%\n\v\xa0"
# Each atom's texts include some a Unicode reading of the class would take and RE2 does not.
_ATOMS = {"a": "a", "b": "b", ".": "ab.-%é\v\xa0", "\\.": ".", "\\-": "-", "\\d": "019\u0663", "\\w": "a_1é",
          "\\s": " \t\n\f\r\v\xa0", "\\D": "a-", "[ab]": "ab", "[^a]": "b\n-", "[a-b]": "ab", "[-a]": "-a",
          "[a-]": "a-", "[\\d.]": "1.", "[%./]": "%./", "\\x61": "a", "\\n": "\n", "é": "é", "%": "%"}
_COUNTS = {"": (1, 1), "*": (0, 3), "+": (1, 3), "?": (0, 1), "*?": (0, 2), "+?": (1, 2), "{2}": (2, 2),
           "{1,3}": (1, 3), "{0,}": (0, 2), "{2,}?": (2, 3)}


@st.composite
def _pattern_and_text(draw, depth: int = 0) -> tuple[str, str]:
    branches = []
    for _ in range(draw(st.integers(1, 2))):
        pattern, text = "", ""
        for _ in range(draw(st.integers(0, 3))):
            quantifier = draw(st.sampled_from(sorted(_COUNTS)))
            count = draw(st.integers(*_COUNTS[quantifier]))
            if depth < 2 and draw(st.integers(0, 4)) == 0:
                inner, sample = draw(_pattern_and_text(depth + 1))
                pattern += draw(st.sampled_from(["(?:", "("])) + inner + ")" + quantifier
                text += sample * count  # the group's one text, each time
            else:
                atom = draw(st.sampled_from(sorted(_ATOMS)))
                pattern += atom + quantifier
                text += "".join(draw(st.sampled_from(_ATOMS[atom])) for _ in range(count))
        branches.append((pattern, text))
    chosen = draw(st.integers(0, len(branches) - 1))
    return "|".join(p for p, _ in branches), branches[chosen][1]


@settings(max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck))
@given(drawn=_pattern_and_text(), end=st.booleans(), change=st.sampled_from(["", "\n", "cut", "a", "é"]))
def test_a_match_found_in_python_is_a_match_in_re2(drawn, end, change):
    body, text = drawn
    pattern = f"^(?:{body}){'$' if end else ''}"
    compiled = _python(pattern)
    if compiled is None:
        return
    text = text[:-1] if change == "cut" else text + change
    if compiled.search(text) is not None:
        assert _matches_in_cel_cpp(pattern, text) is True, (pattern, compiled.pattern, text)


@pytest.mark.parametrize("pattern", [
    "a|^b",  # a branch that is not anchored: a search at every position
    "(?i)^a",  # flags
    "^\\bword",  # word boundaries
    "^\\_",  # RE2 refuses escaping a word character
    "^(a{100}){20}$",  # RE2 refuses nested counts above 1000
    "^a{1001}",
    "^[[:alpha:]]",
    "^\\p{L}",
    "^(a)\\1",
    "^a**",
])
def test_patterns_outside_the_shared_syntax_are_left_to_re2(pattern):
    assert _python(pattern) is None


def test_a_pattern_that_backtracks_forever_elsewhere_takes_one_pass_here():
    # (a+)+$ on a's and a final b is exponential for a backtracking engine; atomic groups and
    # possessive repetition give up at once, and cel-cpp (RE2, linear) decides.
    compiled = _python("^(a+)+$")
    assert compiled.pattern == "\\A(?>a++)++\\Z"
    assert compiled.search("a" * 100_000 + "b") is None
    assert _matches_in_cel_cpp("^(a+)+$", "a" * 30 + "b") is False
