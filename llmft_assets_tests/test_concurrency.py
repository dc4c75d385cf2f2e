from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from llmft_assets.concurrency import in_order


def test_fetching_keeps_order_and_holds_only_a_few_results_however_many_items() -> None:
    pulled = 0

    def items() -> Iterator[int]:
        nonlocal pulled
        for item in range(1000):
            pulled += 1
            yield item

    with ThreadPoolExecutor(4) as pool:
        for taken, (item, result) in enumerate(in_order(pool, lambda i: i * i, items(), 8)):
            assert (item, result) == (taken, taken * taken)
            assert pulled <= taken + 8  # submitted but not yet taken: at most `ahead`
    assert pulled == 1000
