"""A receipt as XML for a node whose national system speaks China single window XML.

The single window answers a declaration with a response document (回执) naming the client's
sequence number, a result code and the error text; the broker's receipt keeps that shape with
its own, documented namespace (it is not a GACC message):

    <DecReceipt xmlns="urn:ilstc:broker:cn-swxml-receipt:1">
      <ResponseCode>0|1|2</ResponseCode>        0 accepted, 1 accepted with errors, 2 rejected
      <Outcome>ACCEPTED|ACCEPTED_WITH_ERRORS|REJECTED</Outcome>
      <ReceiptId/> <DeclarationMessageId/> <ReceivingNode/> <IssueTime/> (China time)
      <ReceivedSha256/>
      <Errors><Error><Code/><Field/><ErrorMessage/><OriginalValue/></Error>...</Errors>
    </DecReceipt>
"""

from __future__ import annotations

from typing import Final

from broker.codes.time_zones import zone_for
from broker.formats.receipt_outcome import ReceiptOutcome, RenderedReceipt
from broker.formats.xml.write import XmlElement, group, leaf, to_xml_bytes, xml_text
from broker.model import Receipt

NAMESPACE: Final = "urn:ilstc:broker:cn-swxml-receipt:1"
RESPONSE_CODES: Final = {
    ReceiptOutcome.ACCEPTED: "0",
    ReceiptOutcome.ACCEPTED_WITH_ERRORS: "1",
    ReceiptOutcome.REJECTED: "2",
}


def render_cn_receipt(receipt: Receipt) -> RenderedReceipt:
    outcome = ReceiptOutcome.of(receipt)
    local = receipt.issue_time.astimezone(zone_for("CN"))
    errors = group(
        "Errors",
        (
            group(
                "Error",
                (
                    leaf("Code", xml_text(error.code)),
                    leaf("Field", xml_text(error.field)),
                    leaf("ErrorMessage", xml_text(error.reason)),
                    leaf("OriginalValue", xml_text(error.original_value)),
                ),
            )
            for error in receipt.errors
        ),
    )
    children = (
        leaf("ResponseCode", RESPONSE_CODES[outcome]),
        leaf("Outcome", outcome.value),
        leaf("ReceiptId", str(receipt.message_id)),
        leaf("DeclarationMessageId", str(receipt.referenced_message_id)),
        leaf("ReceivingNode", xml_text(receipt.receiving_node)),
        leaf("IssueTime", local.strftime("%Y%m%d%H%M%S")),
        leaf("ReceivedSha256", receipt.received_sha256.hex()),
        errors,
    )
    root = XmlElement("DecReceipt", children=tuple(c for c in children if c is not None))
    return RenderedReceipt(to_xml_bytes(root, namespace=NAMESPACE), "xml")
