"""The embedded store on its own: no LM needed. Run: .venv/bin/python examples/store_quickstart.py"""

from __future__ import annotations

import sys
import tempfile

from memspy.stores import EdgeStore, PutOp


def main(path: str) -> None:
    with EdgeStore(path) as store:
        ns = ("memories", "user-1")
        store.put_many(
            [
                PutOp(ns, "diet", {"content": "Priya is vegetarian", "kind": "Memory", "importance": 0.8}),
                PutOp(ns, "pet", {"content": "Priya has a beagle called Biscuit", "kind": "Memory", "importance": 0.6}),
                PutOp(ns, "race", {"content": "Priya runs the Lisbon half marathon in October", "kind": "Memory"}),
            ]
        )
        for query in ("what does Priya eat?", "Biscuit", "upcoming race"):
            best = store.search(ns, query=query, limit=1)[0]
            print(f"{query!r:28} -> {best.value['content']}  (score {best.score:.3f})")
        important = store.search(ns, filter={"importance": {"$gte": 0.7}})
        print("importance >= 0.7:", [i.key for i in important])
        print("namespaces:", store.list_namespaces())


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="memspy-"))
