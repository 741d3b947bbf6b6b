"""Exports over MCP, end to end: `deep-research serve` over stdio with the SDK client, a research by the offline
engine, then `research_result(format="pdf")` links `report.pdf`, whose blob is a PDF with the report's text; an
unknown format is refused in one sentence naming the allowed ones; `write(format="json")` links the rewrite's JSON."""

from __future__ import annotations

import asyncio
import base64
import subprocess
from pathlib import Path

from mcp.client import Client
from mcp.client.stdio import StdioServerParameters

from deep_research_mcp.export.to_json import ExportedReport

from ..server.conftest import FACT, QUESTION, serve_command, write_corpus

DEADLINE_S = 30.0


async def test_research_result_as_pdf_over_stdio(tmp_path: Path) -> None:
    command, *args = serve_command()
    env = {"DEEP_RESEARCH_DATA_DIR": str(tmp_path / "data"), "DEEP_RESEARCH_FETCH_ENABLED": "false"}
    params = StdioServerParameters(command=command, args=[*args, "--docs", str(write_corpus(tmp_path / "docs"))],
                                   env=env)
    async with asyncio.timeout(DEADLINE_S), Client(params) as client:
        done = await client.call_tool("research", {"question": QUESTION})
        run_id = done.structured_content["run_id"]
        result = await client.call_tool("research_result", {"run_id": run_id, "format": "pdf"})
        links = [block for block in result.content if block.type == "resource_link"]
        contents = (await client.read_resource(links[0].uri)).contents[0]
        refused = await client.call_tool("research_result", {"run_id": run_id, "format": "xlsx"})
        rewritten = await client.call_tool("write", {"run_id": run_id, "instructions": "shorter", "format": "json"})
        json_link = next(block for block in rewritten.content if block.type == "resource_link")
        exported = ExportedReport.model_validate_json((await client.read_resource(json_link.uri)).contents[0].text)
        templates = {t.uri_template: t.mime_type for t in (await client.list_resource_templates()).resource_templates}
    assert not result.is_error and result.structured_content["report_uri"] == f"research://runs/{run_id}/report.pdf"
    assert str(links[0].uri) == f"research://runs/{run_id}/report.pdf" and links[0].mime_type == "application/pdf"
    assert contents.mime_type == "application/pdf"
    pdf = base64.b64decode(contents.blob)
    assert pdf.startswith(b"%PDF-")
    (tmp_path / "report.pdf").write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(tmp_path / "report.pdf"), "-"], check=True, capture_output=True,
                          text=True, timeout=30).stdout
    assert FACT in " ".join(text.split()) and "[1]" in text and "Sources" in text
    assert refused.is_error
    assert refused.content[0].text == ("research_result: 'format' must be one of md, html, pdf, docx, json, "
                                       'not "xlsx".')
    assert templates["research://runs/{run_id}/report.docx"] == MEDIA_DOCX
    new_id = rewritten.structured_content["run_id"]
    assert new_id != run_id and str(json_link.uri) == f"research://runs/{new_id}/report.json"
    assert json_link.mime_type == "application/json" and exported.run_id == new_id and exported.sources


MEDIA_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
