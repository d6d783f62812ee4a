"""Compile the memory manager on labeled chats, save the program, load it, and run it on a new chat.

Compiling with labeled demos calls no LM; running the compiled manager does. Run with the offline model (after
`make local`) or any DSPy/LiteLLM model:
    .venv/bin/python examples/compile_memory_manager.py compiled.json
    MEMSPY_LM=openai/gpt-4o-mini .venv/bin/python examples/compile_memory_manager.py compiled.json
    .venv/bin/python examples/compile_memory_manager.py compiled.json --compile-only   # no LM needed
"""

from __future__ import annotations

import argparse

from memspy.evals.compile import build_pipeline, compile_program, make_examples, make_metric
from memspy.evals.labeled import bundled_dataset, load_labeled, split_records
from memspy.pipelines import configure_lm, create_memory_manager

CHAT = [
    {"role": "system", "content": "[session date: 3 March 2024]"},
    {"role": "user", "name": "Ines", "content": "I finally booked the ferry to Skye for the 14th of April!"},
    {"role": "user", "name": "Omar", "content": "Amazing! Are you taking the bike?"},
    {"role": "user", "name": "Ines", "content": "Yes, and my sister Lena is coming too. She just got her licence."},
    {"role": "user", "name": "Omar", "content": "Nice. I can't join, I start my new job at the library on Monday."},
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="where to save the compiled program (JSON)")
    parser.add_argument("--compile-only", action="store_true", help="compile and save; do not call an LM")
    args = parser.parse_args()

    # 30 long two-person chats with their facts ship with memspy; 21 are marked for training.
    train, _dev = split_records(load_labeled(bundled_dataset("semantic_sessions"), task="extract"))
    manager = build_pipeline("extract")  # the uncompiled default design
    trainset = make_examples("extract", train, manager)
    compiled = compile_program(manager, trainset, optimizer="labeled", metric=make_metric("extract"), max_demos=2)
    compiled.save(args.out)
    print(f"saved {args.out}: {[d['id'] for d in compiled.extract.demos]} as the extract step's demos")

    loaded = create_memory_manager(program=args.out)  # every factory takes program=
    assert [d["id"] for d in loaded.extract.demos] == [d["id"] for d in compiled.extract.demos]
    if args.compile_only:
        return
    configure_lm()  # $MEMSPY_LM, else the offline local model
    for memory in loaded.invoke({"messages": CHAT}):
        print("   ", memory.content)


if __name__ == "__main__":
    main()
