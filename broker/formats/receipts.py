"""Receipts in the national system's own format: what a node hands its gateway for each answer.

A node receives a signed `Receipt` for every declaration it sent; the national system that
dropped the declaration in the outbox reads the answer in its own format:

- `cusdec`: a UN/EDIFACT CUSRES (D.96B) interchange, see `cusdec/receipt.py`;
- `cn-swxml`: a `DecReceipt` XML document modelled on the single window's responses, see
  `cn_swxml/receipt.py`;
- `acdd-xml`: the same receipt with WCO Data Model names, see `acdd_xml/receipt.py`;
- `canonical-json`: the receipt model as JSON.

Each answer is one of three outcomes (`ReceiptOutcome`): accepted, accepted with errors (an
ACCEPTED receipt carrying problems: delivered with gaps), rejected. Renderers are pure.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from broker.formats.acdd_xml.receipt import render_acdd_receipt
from broker.formats.cn_swxml.receipt import render_cn_receipt
from broker.formats.cusdec.receipt import render_cusres
from broker.formats.receipt_outcome import ReceiptOutcome, RenderedReceipt
from broker.model import Receipt


def render_receipt(format_id: str, receipt: Receipt) -> RenderedReceipt:
    """`receipt` in the format `format_id` speaks (canonical JSON for a format without one)."""
    renderers: dict[str, Callable[[Receipt], RenderedReceipt]] = {
        "cusdec": render_cusres,
        "cn-swxml": render_cn_receipt,
        "acdd-xml": render_acdd_receipt,
    }
    return renderers.get(format_id, render_json_receipt)(receipt)


def render_json_receipt(receipt: Receipt) -> RenderedReceipt:
    """The receipt model as JSON (digest in hex), keys sorted, with the three-way outcome."""
    document = json.loads(receipt.model_dump_json())
    document["outcome"] = ReceiptOutcome.of(receipt).value
    text = json.dumps(document, ensure_ascii=False, sort_keys=True, indent=2) + "\n"
    return RenderedReceipt(text.encode("utf-8", errors="replace"), "json")


__all__ = ["ReceiptOutcome", "RenderedReceipt", "render_json_receipt", "render_receipt"]
