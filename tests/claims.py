"""Checks that the numbers a notebook states in its conclusions are the numbers it measured.

A *claim cell* is a Markdown cell that interprets results: one that directly follows a code cell
with stored outputs ("what it means"), or the "What to remember" cell. Exercise statements are
not claim cells. Every number written in a claim cell must be one of:

- a number printed by a code cell *above* it, in the stored outputs, at the precision the text
  gives (the text "92.3" matches a printed 92.31; "92.3%" also matches a printed fraction
  0.923; "about 70" matches anything within 5% of 70);
- or a number the text takes from elsewhere (a paper's table, a setting, a mathematical
  constant), listed in the cell's metadata ``{"gancourse": {"given": ["17.3", "0.02", ...]}}`` as
  written in the text: the reviewer sees at a glance which numbers are not measured.

Not counted as claims: LaTeX (``$...$``), inline code, links, single-digit integers standing alone
(counts, section numbers, "k = 1"), years, square sizes ("32×32", "7×7"), powers of ten written
with superscripts, and the numbers of references ("notebook 05", "Table 1", "Figure 2", "Eq. 3",
"Section 4", "Algorithm 1", "Exercise 04.2", "Proposition 1", "VGG-19").
"""
from __future__ import annotations

import re
from dataclasses import dataclass

NUMBER = re.compile(r"(?<![\w.])(?<!\w-)[-−]?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\w])"
                    r"|(?<![\w.,])(?<!\w-)[-−]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![^\W\d_])")
SUPERSCRIPT = "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"
SQUARE = re.compile(r"(?<![\w.])(\d+)\s*[×x]\s*(\d+)(?![\w.])")   # sizes: 32×32, 7×7
REFERENCE = re.compile(r"(?i:\b(?:notebooks?|Table|Tables|Figure|Figures|Fig\.|Eq\.|Eqs\.|Equation|Section|section|sections|"
                       r"Algorithm|Exercise|Exercises|Proposition|Theorem|Lemma|Corollary|Appendix|cell|cells|step|"
                       r"Chapter|Definition|version|v|seed|seeds|Python|torch|PyTorch|nbgrader|VGG|ResNet))\s+[-−]?(\d[\d.]*)"
                       r"(?:\s*(?:[-–,]|and|or|to)\s*(\d[\d.]*))*")
APPROX = re.compile(r"(?:about|around|roughly|nearly|almost|approximately|≈|~|some)\s*$", re.I)
SKIP = [re.compile(p, re.S) for p in (r"\$\$.*?\$\$", r"\$[^$\n]*\$", r"`[^`]*`", r"\]\([^)]*\)", r"https?://\S+",
                                     r"<[^>]+>", r"\\\(.*?\\\)")]


@dataclass
class Unmatched:
    cell: int
    number: str
    context: str

    def __str__(self):
        return f"cell {self.cell}: {self.number!r} in ...{self.context}..."


def _value(token: str) -> float:
    return float(token.replace("−", "-").replace(",", ""))


def _decimals(token: str) -> int:
    t = token.replace(",", "")
    if "e" in t.lower():
        return 99
    return len(t.split(".")[1]) if "." in t else 0


def output_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif out.get("output_type") in ("execute_result", "display_data"):
            data = out.get("data", {})
            for kind in ("text/plain", "text/markdown", "text/html"):
                if kind in data:
                    parts.append(data[kind] if isinstance(data[kind], str) else "".join(data[kind]))
    return "\n".join(parts)


def numbers_in_outputs(text: str) -> list[float]:
    values = []
    for m in NUMBER.finditer(text):
        try:
            values.append(_value(m.group()))
        except ValueError:
            pass
    return values


def claim_cells(nb) -> list[int]:
    """Indices of the claim cells (see the module docstring)."""
    found = []
    after_output = False
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            after_output = bool(cell.get("outputs"))
            continue
        if cell.cell_type != "markdown":
            continue
        text = cell.source
        is_claim = (after_output or re.search(r"^#+\s*What to remember", text, re.M)) and \
            not text.lstrip().startswith("### Exercise")
        if is_claim:
            found.append(i)
        after_output = False
    return found


def claimed_numbers(text: str) -> list[tuple[str, int, bool]]:
    """``(token, position, approximate)`` for every number the text states as a claim."""
    text = text.split("## References")[0]
    masked = text
    for pattern in SKIP:
        masked = pattern.sub(lambda m: " " * len(m.group()), masked)
    refs = set()
    for m in REFERENCE.finditer(masked):
        for k in range(1, (m.lastindex or 0) + 1):
            if m.group(k):
                refs.add(m.start(k))
        # every number inside the matched span belongs to the reference ("sections 5 and 6")
        for n in NUMBER.finditer(m.group()):
            refs.add(m.start() + n.start())
    for m in SQUARE.finditer(masked):
        if m.group(1) == m.group(2):  # a square size (kernel, image, patch), not a claim
            refs.update({m.start(1), m.start(2)})
    out = []
    for m in NUMBER.finditer(masked):
        token = m.group()
        if m.start() in refs:
            continue
        if masked[m.end():m.end() + 1] in SUPERSCRIPT and masked[m.end():m.end() + 1]:
            continue  # 10⁻⁴: part of a power of ten in a setting
        value = _value(token)
        after = masked[m.end():m.end() + 2]
        before = masked[max(0, m.start() - 1):m.start()]
        bare_int = "." not in token and "," not in token and not after.startswith(("%", "/", "×")) and before != "/"
        if bare_int and abs(value) < 10:
            continue
        if bare_int and 1950 <= value <= 2035:
            continue   # a year
        approximate = bool(APPROX.search(masked[max(0, m.start() - 16):m.start()]))
        out.append((token, m.start(), approximate))
    return out


def _matches(token: str, approximate: bool, percent: bool, values: list[float]) -> bool:
    x = _value(token)
    d = _decimals(token)
    candidates = values + ([100 * v for v in values if abs(v) <= 1] if percent else [])
    for y in candidates:
        if approximate:
            if abs(y - x) <= 0.05 * abs(x) + 0.5 * 10 ** (-d):
                return True
        elif d == 99:
            if abs(y - x) <= 1e-9 * max(1.0, abs(x)) or (x != 0 and abs(y / x - 1) < 1e-6):
                return True
        elif round(y, d) == round(x, d) or abs(y - x) <= 0.5 * 10 ** (-d) + 1e-9:
            return True
    return False


def check_notebook(nb) -> list[Unmatched]:
    """Every claimed number that neither a stored output above its cell nor the cell's ``given``
    list accounts for."""
    problems = []
    seen: list[float] = []
    claims = set(claim_cells(nb))
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            seen.extend(numbers_in_outputs(output_text(cell)))
            continue
        if i not in claims:
            continue
        given = {g.strip() for g in cell.metadata.get("gancourse", {}).get("given", [])}
        text = cell.source
        for token, pos, approximate in claimed_numbers(text):
            if token in given or token.replace("−", "-") in given:
                continue
            percent = text[pos + len(token):pos + len(token) + 2].lstrip().startswith("%")
            if not _matches(token, approximate, percent, seen):
                context = text[max(0, pos - 40):pos + len(token) + 20].replace("\n", " ")
                problems.append(Unmatched(i, token, context))
    return problems
