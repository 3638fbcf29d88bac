"""The comparison as a person reads it: Markdown, and a static HTML page (no server needed).

Flipped cases come first, each with both answers side by side and the scores that failed."""

import html

from domain.evals.schemas import CasePairRead, ComparisonRead, EvalRunRead, IntervalRead


def _interval(value: IntervalRead | None) -> str:
    if value is None:
        return "n/a"
    return f"{value.mean:+.1%} (95% CI {value.low:+.1%} to {value.high:+.1%})"


def _run_line(run: EvalRunRead) -> str:
    prompts = ", ".join(run.prompts.values())
    label = f" ({run.label})" if run.label else ""
    judge = f", judged by {run.judge}" if run.judge else ""
    return f"{run.id}{label}: {run.mode}, model {run.model}, prompts {prompts}{judge}"


def markdown(c: ComparisonRead) -> str:
    baseline, candidate = c.baseline, c.candidate
    lines = [
        f"# Eval comparison: {baseline.suite}",
        "",
        f"**{c.verdict}**",
        "",
        f"- Baseline: {_run_line(baseline)}",
        f"- Candidate: {_run_line(candidate)}",
        "",
        "| | Baseline | Candidate |",
        "| --- | --- | --- |",
        f"| Pass rate | {c.baseline_pass_rate:.0%} | {c.candidate_pass_rate:.0%} |",
        f"| Cases failing a hard gate | {c.baseline_gate_failures} | {c.candidate_gate_failures} |",
        "",
        f"- Paired cases: {c.cases}; regressed (pass→fail): {c.regressed}; "
        f"improved (fail→pass): {c.improved}; exact McNemar p = {c.mcnemar_p:.3g}",
        f"- Pass-rate difference: {_interval(c.pass_rate_difference)}",
        f"- Soft-score difference: {_interval(c.soft_score_difference)}",
        f"- Non-inferiority margin: {c.margin:.0%}; shown: {'yes' if c.non_inferior else 'no'}",
        f"- What this sample can detect: {c.detectable}",
    ]
    if c.only_in_baseline or c.only_in_candidate:
        lines.append(
            f"- Not paired: {len(c.only_in_baseline)} case(s) only in the baseline, "
            f"{len(c.only_in_candidate)} only in the candidate"
        )
    changed = [p for p in c.pairs if p.change != "same"]
    lines += ["", "## Cases that changed", ""]
    if not changed:
        lines.append("None.")
    for pair in changed:
        lines += _pair_markdown(pair)
    lines += ["", "## Every case", "", "| Case | Baseline | Candidate | Soft Δ |"]
    lines.append("| --- | --- | --- | --- |")
    for pair in c.pairs:
        lines.append(
            f"| {pair.case_id} | {_mark(pair.baseline.passed)} | {_mark(pair.candidate.passed)} "
            f"| {_soft_delta(pair)} |"
        )
    return "\n".join(lines) + "\n"


def _pair_markdown(pair: CasePairRead) -> list[str]:
    return [
        f"### {pair.case_id}: {pair.change}",
        "",
        f"- Baseline failed: {', '.join(pair.baseline.failed_scores) or 'nothing'}",
        f"- Candidate failed: {', '.join(pair.candidate.failed_scores) or 'nothing'}",
        "",
        "| Baseline answer | Candidate answer |",
        "| --- | --- |",
        f"| {_cell(pair.baseline.answer)} | {_cell(pair.candidate.answer)} |",
        "",
    ]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>") or "(empty)"


def _mark(passed: bool) -> str:
    return "pass" if passed else "FAIL"


def _soft_delta(pair: CasePairRead) -> str:
    if pair.baseline.soft_score is None or pair.candidate.soft_score is None:
        return ""
    return f"{pair.candidate.soft_score - pair.baseline.soft_score:+.2f}"


_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;margin:1rem 0;width:100%}
td,th{border:1px solid #ccc;padding:.3rem .5rem;vertical-align:top;text-align:left}
.bad{color:#b00020;font-weight:600}.good{color:#0a7a2f;font-weight:600}
.verdict{font-size:1.2rem;padding:.6rem;border-radius:.3rem;background:#f3f3f3}
pre{white-space:pre-wrap;margin:0;font:13px/1.4 ui-monospace,monospace}
"""


def html_page(c: ComparisonRead) -> str:
    baseline, candidate = c.baseline, c.candidate
    e = html.escape
    ok = c.non_inferior and c.candidate_gate_failures == 0
    rows = "".join(
        f"<tr><td>{e(p.case_id)}</td><td>{_html_mark(p.baseline.passed)}</td>"
        f"<td>{_html_mark(p.candidate.passed)}</td><td>{e(_soft_delta(p))}</td></tr>"
        for p in c.pairs
    )
    changed = (
        "".join(
            f"<h3>{e(p.case_id)}: {e(p.change)}</h3><table><tr><th>Baseline "
            f"(failed: {e(', '.join(p.baseline.failed_scores) or 'nothing')})</th><th>Candidate "
            f"(failed: {e(', '.join(p.candidate.failed_scores) or 'nothing')})</th></tr><tr>"
            f"<td><pre>{e(p.baseline.answer)}</pre></td><td><pre>{e(p.candidate.answer)}</pre></td>"
            "</tr></table>"
            for p in c.pairs
            if p.change != "same"
        )
        or "<p>None.</p>"
    )
    facts = [
        ("Baseline", _run_line(baseline)),
        ("Candidate", _run_line(candidate)),
        ("Pass rate", f"{c.baseline_pass_rate:.0%} → {c.candidate_pass_rate:.0%}"),
        ("Hard-gate failures", f"{c.baseline_gate_failures} → {c.candidate_gate_failures}"),
        ("Flips", f"{c.regressed} regressed, {c.improved} improved; McNemar p = {c.mcnemar_p:.3g}"),
        ("Pass-rate difference", _interval(c.pass_rate_difference)),
        ("Soft-score difference", _interval(c.soft_score_difference)),
        ("Non-inferiority", f"margin {c.margin:.0%}: {'shown' if c.non_inferior else 'not shown'}"),
        ("What the sample can detect", c.detectable),
    ]
    summary = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in facts)
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>Eval comparison: {e(baseline.suite)}</title><style>{_STYLE}</style>"
        f"<h1>Eval comparison: {e(baseline.suite)}</h1>"
        f"<p class='verdict {'good' if ok else 'bad'}'>{e(c.verdict)}</p>"
        f"<table>{summary}</table><h2>Cases that changed</h2>{changed}"
        "<h2>Every case</h2><table><tr><th>Case</th><th>Baseline</th><th>Candidate</th>"
        f"<th>Soft Δ</th></tr>{rows}</table></html>\n"
    )


def _html_mark(passed: bool) -> str:
    return "<span class=good>pass</span>" if passed else "<span class=bad>FAIL</span>"
