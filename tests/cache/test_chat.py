from __future__ import annotations

from deep_research_mcp.cache.chat import chat_entry
from deep_research_mcp.llm.base import ChatResponse, Message, ToolCall, ToolSpec, Usage

TOOLS = [ToolSpec("search", "Search.", {"type": "object", "properties": {"q": {"type": "string"}}})]


def conversation(first: str, second: str) -> list[Message]:
    call = ToolCall("call_1", "search", {"q": "tides"})
    return [
        Message.system("You research. Amazon S3 stores things."),
        Message("assistant", "", (call,)),
        Message.tool_result(call, f'[{first}] Tides\n<document id="{first}">Moon.</document>\n'
                                  f'[{second}] Lagoons\n<document id="{second}">Walls.</document>'),
        Message.user(f"Compare [{first}, {second}] and [{second}]."),
    ]


def key(messages: list[Message]) -> dict[str, object]:
    inputs, _ = chat_entry("openai:m", messages, tools=TOOLS, output=None, max_tokens=100)
    return inputs


def test_source_ids_do_not_change_the_key_but_their_order_of_appearance_does() -> None:
    assert key(conversation("S1", "S2")) == key(conversation("S5", "S3"))
    # The same ids in swapped places show the model different documents under each id: a different question.
    assert key(conversation("S1", "S2")) != key(conversation("S1", "S1"))
    swapped = conversation("S1", "S2")
    swapped[3] = Message.user("Compare [S2, S1] and [S1].")
    assert key(conversation("S1", "S2")) != key(swapped)


def test_a_replayed_answer_cites_the_current_runs_ids_for_the_same_documents() -> None:
    _, first_run = chat_entry("openai:m", conversation("S1", "S2"), tools=TOOLS, output=None, max_tokens=100)
    answer = ChatResponse(text="Moon [S1]; walls [S2, S1]; invented [S9]; Amazon S1 in prose.",
                          tool_calls=[ToolCall("c", "search", {"q": "more on [S2]"})], usage=Usage(7, 3), model="m")
    stored = first_run.encode(answer)
    _, second_run = chat_entry("openai:m", conversation("S5", "S3"), tools=TOOLS, output=None, max_tokens=100)
    replayed = second_run.decode(stored)
    assert replayed.text == "Moon [S5]; walls [S3, S5]; invented [S9]; Amazon S1 in prose."
    assert replayed.tool_calls == [ToolCall("c", "search", {"q": "more on [S3]"})]
    assert replayed.usage == Usage()  # nothing paid for a replay


def test_prose_that_looks_like_an_id_is_not_renamed() -> None:
    assert key([Message.user("Amazon S3 and S4")]) != key([Message.user("Amazon S4 and S3")])


def test_text_holding_the_private_marker_is_keyed_literally_and_never_stored() -> None:
    odd = [Message.user("weird \ue0001 [S1]")]
    inputs, codec = chat_entry("openai:m", odd, tools=None, output=None, max_tokens=None)
    assert inputs["source_ids"] == "literal" and key(odd) != key([Message.user("weird \ue0001 [S2]")])
    _, normal = chat_entry("openai:m", [Message.user("[S1]")], tools=None, output=None, max_tokens=None)
    assert normal.encode(ChatResponse(text="echo \ue0002")) is None
