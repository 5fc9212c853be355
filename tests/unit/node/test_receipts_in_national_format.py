"""A node hands its national system each partner's receipt in the national format."""

from __future__ import annotations

from pathlib import Path

from broker.clock import FakeClock
from broker.model.samples import sample_declaration
from broker.node.config import Partner
from broker.transport.memory import MemoryTransport
from tests.corridor_support import SmallCorridor

PARTNERS: dict[str, tuple[Partner, ...]] = {
    "CN-CQ": (Partner(node_id="LA-VTE"), Partner(node_id="TH-BKK")),
    "LA-VTE": (Partner(node_id="CN-CQ"), Partner(node_id="TH-BKK")),
    "TH-BKK": (Partner(node_id="CN-CQ"), Partner(node_id="LA-VTE")),
}


async def test_a_cusdec_node_gets_cusres_receipts_in_its_gateway(tmp_path: Path) -> None:
    corridor = SmallCorridor(MemoryTransport(), FakeClock(), tmp_path, PARTNERS)
    await corridor.prepare()
    sender = corridor.node("CN-CQ", gateway=True, format="cusdec")
    others = [corridor.node(node_id) for node_id in ("LA-VTE", "TH-BKK")]
    nodes = [sender, *others]
    for node in nodes:
        await node.start()
    try:
        declaration = sample_declaration(lines=1, reference="CQ-R-1")
        result = await sender.submit(declaration.model_dump_json().encode())
        for _ in range(2):
            for node in nodes:
                await node.process_inbox_batch()
        gateway = sender.parts.gateway
        assert gateway is not None
        sent = result.message_id
        names = sorted(path.name for path in gateway.receipts.iterdir())
        assert names == [f"LA-VTE.{sent}.receipt.edi", f"TH-BKK.{sent}.receipt.edi"]
        text = (gateway.receipts / names[0]).read_text("utf-8")
        assert "UNH+1+CUSRES:D:96B:UN'" in text
        assert "+AP'" in text  # accepted
        assert f"RFF+ACW:{sent}'" in text
        assert (gateway.receipts / names[0]).stat().st_mode & 0o077 == 0  # owner-only
    finally:
        for node in nodes:
            await node.stop()
            node.parts.ledger.close()
