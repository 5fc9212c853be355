"""A receipt as XML with WCO Data Model names, for nodes whose system speaks `acdd-xml`.

Modelled on the WCO DM response (`Response` with `FunctionCode`, `Error` with
`ValidationCode`, `Description` and `Pointer`), in the broker's ACDD namespace:

    <Response xmlns="urn:ilstc:broker:acdd:1">
      <FunctionCode>01|02|03</FunctionCode>   01 accepted, 02 accepted with errors, 03 rejected
      <Outcome/> <ID/> <IssueDateTime/> (UTC offset kept) <DeclarationMessageID/>
      <ReceivingNodeID/> <ReceivedSha256/>
      <Error><ValidationCode/><Description/><Pointer><DocumentSectionCode/></Pointer>
        <OriginalValue/></Error>...
    </Response>
"""

from __future__ import annotations

from typing import Final

from broker.formats.acdd_xml.layout import NAMESPACE
from broker.formats.receipt_outcome import ReceiptOutcome, RenderedReceipt
from broker.formats.xml.write import XmlElement, group, leaf, to_xml_bytes, xml_text
from broker.model import Receipt

FUNCTION_CODES: Final = {
    ReceiptOutcome.ACCEPTED: "01",
    ReceiptOutcome.ACCEPTED_WITH_ERRORS: "02",
    ReceiptOutcome.REJECTED: "03",
}


def render_acdd_receipt(receipt: Receipt) -> RenderedReceipt:
    outcome = ReceiptOutcome.of(receipt)
    errors = [
        group(
            "Error",
            (
                leaf("ValidationCode", xml_text(error.code)),
                leaf("Description", xml_text(error.reason)),
                group("Pointer", (leaf("DocumentSectionCode", xml_text(error.field)),)),
                leaf("OriginalValue", xml_text(error.original_value)),
            ),
        )
        for error in receipt.errors
    ]
    children = (
        leaf("FunctionCode", FUNCTION_CODES[outcome]),
        leaf("Outcome", outcome.value),
        leaf("ID", str(receipt.message_id)),
        leaf("IssueDateTime", receipt.issue_time.isoformat()),
        leaf("DeclarationMessageID", str(receipt.referenced_message_id)),
        leaf("ReceivingNodeID", xml_text(receipt.receiving_node)),
        leaf("ReceivedSha256", receipt.received_sha256.hex()),
        *errors,
    )
    root = XmlElement("Response", children=tuple(c for c in children if c is not None))
    return RenderedReceipt(to_xml_bytes(root, namespace=NAMESPACE), "xml")
