"""The report's length budget is spent where there is something to say: what a short section leaves unused goes to
the sections that found more."""

from __future__ import annotations

import re

from deep_research_mcp.llm.offline.model import write_report
from deep_research_mcp.llm.offline.report import REPORT_SENTENCES


def test_a_short_section_leaves_its_share_to_the_others() -> None:
    counts = {1: 2, 2: 16, 3: 16}
    sections = "\n\n".join(
        # Words of their own, so no sentence passes for a near-duplicate of another.
        f"## Topic {t}\n\n" + "\n".join(f"Statement t{t}n{n} " + " ".join(f"w{t}{n}{k}" for k in range(6)) + f". [S{t}]"
                                          for n in range(count))
        for t, count in counts.items()
    )
    report = write_report(f"Research brief:\nTopics one to three\n\nFindings (cited notes from the researchers):\n"
                          f"{sections}")
    body = report.split("\n## ", 1)[1]  # the sections, after the short answer
    cited = len(re.findall(r"\[S\d\]", body))
    share = REPORT_SENTENCES // len(counts)
    assert cited > 2 + 2 * share  # more than a fixed share each would allow
    assert cited <= REPORT_SENTENCES
    # Each section keeps its notes in their order: the best first.
    for t in counts:
        found = [int(n) for n in re.findall(rf"Statement t{t}n(\d+) ", body)]
        assert found == sorted(found)
