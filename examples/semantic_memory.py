"""Background semantic memory: extract, update and delete memories with an LM, then recall them.

Run with the offline model (after `make local`) or any DSPy/LiteLLM model:
    .venv/bin/python examples/semantic_memory.py
    MEMSPY_LM=openai/gpt-4o-mini .venv/bin/python examples/semantic_memory.py
"""

from __future__ import annotations

import tempfile

from memspy.pipelines import Triple, configure_lm, create_memory_store_manager
from memspy.stores import EdgeStore

CONVERSATIONS = [
    "Alice manages the ML team and mentors Bob, who is also on the team.",
    "Bob now leads the ML team and the NLP project.",
    "Alice left the company.",
]


def main() -> None:
    configure_lm()  # $MEMSPY_LM, else the offline local model
    with EdgeStore(tempfile.mkdtemp(prefix="memspy-")) as store:
        manager = create_memory_store_manager(schemas=[Triple], namespace=("org", "{org_id}"), store=store)
        config = {"configurable": {"org_id": "acme"}}
        for text in CONVERSATIONS:
            pred = manager(messages=[{"role": "user", "content": text}], config=config)
            print(f"{text!r}: {[e['event'] for e in pred.events]} ({pred.usage})")
            for memory in manager.get_memories(config):
                print("   ", memory.content)
        for hit in manager.search("who leads the ML team?", config=config, limit=3):
            print(f"recall {hit.score:.2f} {hit.value['text']}")


if __name__ == "__main__":
    main()
