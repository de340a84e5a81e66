"""QBO's other wire format: the same answers as XML, for clients that send
`Accept: application/xml`.

The shapes follow Intuit's XML samples: everything inside `<IntuitResponse>` in the
`http://schema.intuit.com/finance/v3` namespace; a list is its element repeated; references
carry their id as text and their name as an attribute (`<CustomerRef name="Amy">1</CustomerRef>`);
bookkeeping keys (`domain`, `sparse`, `startPosition`, `code`, `bId`...) are attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree

NAMESPACE = "http://schema.intuit.com/finance/v3"
MEDIA_TYPE = "application/xml"
ATTRIBUTES = frozenset(
    {"domain", "sparse", "status", "startPosition", "maxResults", "totalCount", "type", "code"}
    | {"element", "bId", "time", "group"}
)
ATTRIBUTE_ONLY = frozenset({"ColData"})  # a report cell: <ColData value="750.00" id="56"/>
_REF_KEYS = frozenset({"value", "name", "type"})


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _is_ref(value: Mapping[str, Any]) -> bool:
    return "value" in value and set(value) <= _REF_KEYS


def _fill(element: ElementTree.Element, value: Any) -> None:
    if isinstance(value, Mapping):
        if _is_ref(value):
            element.text = _text(value["value"])
            for key in ("name", "type"):
                if value.get(key) is not None:
                    element.set(key, _text(value[key]))
            return
        for key, item in value.items():
            _child(element, key, item)
    elif value is not None:
        element.text = _text(value)


def _child(parent: ElementTree.Element, key: str, value: Any) -> None:
    if value is None:
        return
    if key in ATTRIBUTE_ONLY:
        for item in value if isinstance(value, list) else [value]:
            cell = {k: _text(v) for k, v in item.items() if v is not None}
            ElementTree.SubElement(parent, key, cell)
        return
    if key in ATTRIBUTES and not isinstance(value, Mapping | list):
        parent.set(key, _text(value))
        return
    for item in value if isinstance(value, list) else [value]:
        _fill(ElementTree.SubElement(parent, key), item)


def _error_element(parent: ElementTree.Element, error: Mapping[str, Any]) -> None:
    node = ElementTree.SubElement(parent, "Error")
    for key in ("code", "element"):
        if error.get(key) is not None:
            node.set(key, _text(error[key]))
    for key in ("Message", "Detail"):
        if error.get(key) is not None:
            ElementTree.SubElement(node, key).text = _text(error[key])


def _fault(parent: ElementTree.Element, fault: Mapping[str, Any]) -> None:
    node = ElementTree.SubElement(parent, "Fault", {"type": _text(fault.get("type", ""))})
    for error in fault.get("Error") or []:
        _error_element(node, error)


def _cdc(parent: ElementTree.Element, answers: list[Any]) -> None:
    node = ElementTree.SubElement(parent, "CDCResponse")
    for answer in answers:
        for response in answer.get("QueryResponse") or []:
            _child(node, "QueryResponse", response)


def _batch(parent: ElementTree.Element, items: list[Any]) -> None:
    for item in items:
        node = ElementTree.SubElement(parent, "BatchItemResponse", {"bId": _text(item.get("bId"))})
        for key, value in item.items():
            if key == "Fault":
                _fault(node, value)
            elif key != "bId":
                _child(node, key, value)


def render(body: Mapping[str, Any]) -> bytes:
    """The XML document for a JSON-shaped answer (`{"Invoice": {...}, "time": ...}`); a
    report (Header, Columns, Rows) is its own root, `<Report>`, as QBO sends it."""
    report = {"Header", "Columns", "Rows"} <= set(body)
    root = ElementTree.Element("Report" if report else "IntuitResponse", {"xmlns": NAMESPACE})
    for key, value in body.items():
        if key == "time":
            root.set("time", _text(value))
        elif key == "Fault":
            _fault(root, value)
        elif key == "CDCResponse":
            _cdc(root, value)
        elif key == "BatchItemResponse":
            _batch(root, value)
        else:
            _child(root, key, value)
    declaration = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    return declaration + ElementTree.tostring(root, encoding="unicode").encode("utf-8")


def wanted(accept: str) -> bool:
    """Whether an Accept header asks for XML over JSON."""
    lowered = accept.lower()
    return ("application/xml" in lowered or "text/xml" in lowered) and "json" not in lowered
