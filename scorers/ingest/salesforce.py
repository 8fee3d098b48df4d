"""Salesforce's Outbound Message: the SOAP notification as records, and the Ack it waits for.

Salesforce posts ``notifications`` of ``Notification/sObject`` elements (the fields ticked in
Setup, ``xsi:type="sf:Opportunity"``) and redelivers for 24 hours until it gets ``<Ack>true``.
Each sObject becomes a record shaped like the REST API's (``{"attributes": {"type": ...},
"Id": ..., ...}``), so one mapping serves Outbound Messages and Flow callouts alike.
XML is parsed with defusedxml: no entity expansion, no external entities.
"""

from __future__ import annotations

from typing import Any, Final
from xml.etree.ElementTree import Element

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

OUTBOUND_NS: Final = "http://soap.sforce.com/2005/09/outbound"
_XSI_TYPE: Final = "{http://www.w3.org/2001/XMLSchema-instance}type"
_XSI_NIL: Final = "{http://www.w3.org/2001/XMLSchema-instance}nil"

ACK: Final = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    b"<soapenv:Body>"
    b'<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">'
    b"<Ack>true</Ack>"
    b"</notificationsResponse>"
    b"</soapenv:Body>"
    b"</soapenv:Envelope>"
)
"""What tells Salesforce the notification is delivered (sent only once it is stored)."""


class NotOutboundMessage(ValueError):
    """XML that is not a Salesforce Outbound Message (400 with this text)."""


def outbound_records(body: bytes) -> dict[str, Any]:
    """``{"organization_id": ..., "records": [...]}`` from an Outbound Message's XML."""
    try:
        root = ElementTree.fromstring(body)
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        raise NotOutboundMessage(f"the body is not XML we can read: {exc}") from None
    notifications = root.find(f".//{{{OUTBOUND_NS}}}notifications")
    if notifications is None:
        raise NotOutboundMessage(
            "no <notifications> element of the Outbound Message namespace "
            f"({OUTBOUND_NS}); is this a Salesforce Outbound Message?"
        )
    records = []
    for notification in notifications.findall(f"{{{OUTBOUND_NS}}}Notification"):
        sobject = notification.find(f"{{{OUTBOUND_NS}}}sObject")
        if sobject is not None:
            records.append(_record(sobject))
    organization = notifications.findtext(f"{{{OUTBOUND_NS}}}OrganizationId")
    return {"organization_id": organization, "records": records}


def _record(sobject: Element) -> dict[str, Any]:
    kind = sobject.get(_XSI_TYPE, "")
    record: dict[str, Any] = {"attributes": {"type": kind.rpartition(":")[2]}}
    for field in sobject:
        name = field.tag.rpartition("}")[2]
        record[name] = None if field.get(_XSI_NIL) == "true" else (field.text or "")
    return record
