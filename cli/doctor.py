"""``memspy doctor``: one line each for the configured LM, the embedder and the store."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from memspy.pipelines.runtime import build_lm, check_lm, resolve_model_name
from memspy.stores import EdgeStore, MiniLMEmbedder, StoreLockedError

__all__ = ["doctor", "main"]


def doctor(model: str | None = None, store_path: str = ".memspy/store") -> int:
    """Print one line each for the LM, the embedder and the store; return 0 when all work."""
    ok = True
    name = resolve_model_name(model)
    try:
        works, detail = check_lm(build_lm(name))
    except Exception as e:  # a missing model is reported, not raised
        works, detail = False, str(e)
    ok &= works
    print(f"LM        {'ok ' if works else 'BAD'} {name}: {detail}")
    try:
        start = time.perf_counter()
        emb = MiniLMEmbedder()
        vec = emb.embed_query("hello")
        works, detail = len(vec) == emb.dim, f"{emb.name}, {emb.dim} dims, loaded in {time.perf_counter() - start:.1f}s"
    except Exception as e:
        works, detail = False, str(e)
    ok &= works
    print(f"embedder  {'ok ' if works else 'BAD'} {detail}")
    try:
        with EdgeStore(store_path) as store:
            works, detail = True, f"EdgeStore at {store_path}: {store.count()} items"
    except StoreLockedError as e:
        works, detail = True, f"EdgeStore at {store_path} is open in another process ({e})"
    except Exception as e:
        works, detail = False, f"EdgeStore at {store_path}: {e}"
    ok &= works
    print(f"store     {'ok ' if works else 'BAD'} {detail}")
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``memspy doctor``; 0 when the LM, the embedder and the store all work."""
    p = argparse.ArgumentParser(prog="memspy doctor", description="Check the configured LM, embedder and store.")
    p.add_argument("--lm", default=None, help="model string (default: $MEMSPY_LM or the offline local model)")
    p.add_argument("--path", default=".memspy/store", help="EdgeStore directory")
    args = p.parse_args(argv)
    return doctor(args.lm, args.path)
