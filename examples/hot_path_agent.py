"""An agent that manages its own memory with tools, inside dspy.ReAct, across two threads.

.venv/bin/python examples/hot_path_agent.py          # offline model (after `make local`)
"""

from __future__ import annotations

import tempfile

import dspy

from memspy.pipelines import configurable, configure_lm, create_manage_memory_tool, create_search_memory_tool
from memspy.stores import EdgeStore


def main() -> None:
    configure_lm()
    with EdgeStore(tempfile.mkdtemp(prefix="memspy-")) as store:
        ns = ("memories", "{user_id}")
        tools = [create_manage_memory_tool(ns, store=store), create_search_memory_tool(ns, store=store)]
        agent = dspy.ReAct("question -> answer", tools=tools, max_iters=3)
        with configurable(user_id="sam", thread_id="monday"):
            print(agent(question="Remember that I prefer dark mode in every app.").answer)
        with configurable(user_id="sam", thread_id="tuesday"):
            print(agent(question="What display mode do I prefer?").answer)
        print("OpenAI tool schema:", tools[0].to_openai()["function"]["name"])


if __name__ == "__main__":
    main()
