#!/usr/bin/env python3
"""Generates the Swift codecs of Kafka's wire-protocol messages from Kafka's own JSON schemas.

    Scripts/generate-kafka-messages.py [SCHEMA_DIR]

SCHEMA_DIR defaults to ../shared/reference/kafka-protocol (Kafka's `common/message` definitions;
see its SCHEMA-FORMAT.md). Writes Sources/ReservoirKafka/Messages/<Name>.swift, one file per
message, and Sources/ReservoirKafka/Messages/KafkaAPI.swift (the API keys and version ranges).
Run by hand when the schemas or this generator change; the output is committed, the schemas are
not.

Every field of every version is generated: flexible versions (compact strings, bytes and arrays,
tagged fields with unknown tags skipped), nullable versions, field-level flexible overrides (the
request header's client id), defaults. Decoding is total: a truncated or inconsistent message
throws KafkaProtocolError, never traps.
"""
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMAS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "reference", "kafka-protocol")
OUT = os.path.join(ROOT, "Sources", "ReservoirKafka", "Messages")

PRIMITIVES = {
    "bool": ("Bool", "Bool"),
    "int8": ("Int8", "Int8"),
    "int16": ("Int16", "Int16"),
    "uint16": ("UInt16", "UInt16"),
    "int32": ("Int32", "Int32"),
    "uint32": ("UInt32", "UInt32"),
    "int64": ("Int64", "Int64"),
    "float64": ("Double", "Float64"),
    "uuid": ("KafkaUUID", "UUID"),
}


def load(path):
    text = "\n".join(line for line in open(path).read().split("\n") if not line.strip().startswith("//"))
    return json.loads(text)


class Versions:
    """A version range: "0+", "3-5", "none"."""

    def __init__(self, text):
        text = (text or "none").strip()
        if text == "none":
            self.low, self.high = None, None
        elif text.endswith("+"):
            self.low, self.high = int(text[:-1]), None
        elif "-" in text:
            low, high = text.split("-")
            self.low, self.high = int(low), int(high)
        else:
            self.low = self.high = int(text)

    @property
    def empty(self):
        return self.low is None

    def condition(self, var, within):
        """A Swift condition true when `var` is in this range, given that `var` lies in `within`."""
        if self.empty:
            return "false"
        parts = []
        if self.low is not None and self.low > within.low:
            parts.append("%s >= %d" % (var, self.low))
        if self.high is not None and (within.high is None or self.high < within.high):
            parts.append("%s <= %d" % (var, self.high))
        return " && ".join(parts) if parts else "true"

    def always(self, within):
        return self.condition("v", within) == "true"


def swift_name(name):
    name = name[0].lower() + name[1:]
    # Leading acronyms: "ISRNodes" -> "isrNodes"
    match = re.match(r"^([a-z])([A-Z]+)([A-Z][a-z].*)?$", name)
    if match and len(match.group(2)) > 0 and match.group(3):
        name = match.group(1) + match.group(2).lower() + match.group(3)
    elif re.match(r"^[a-z][A-Z]+$", name):
        name = name.lower()
    if name in ("protocol", "default", "internal", "operator", "self", "Type", "extension", "repeat", "in", "is", "as"):
        name = "`%s`" % name
    return name


class Field:
    def __init__(self, spec, message):
        self.spec = spec
        self.name = spec["name"]
        self.prop = swift_name(self.name)
        self.type = spec["type"]
        self.versions = Versions(spec.get("versions"))
        self.nullable = Versions(spec.get("nullableVersions"))
        self.tagged = Versions(spec.get("taggedVersions"))
        self.tag = spec.get("tag")
        self.flexible_override = Versions(spec["flexibleVersions"]) if "flexibleVersions" in spec else None
        self.about = spec.get("about", "")
        self.default = spec.get("default")
        self.is_array = self.type.startswith("[]")
        self.element = self.type[2:] if self.is_array else self.type
        self.struct = None
        if self.element not in PRIMITIVES and self.element not in ("string", "bytes", "records"):
            fields = spec.get("fields")
            self.struct = message.struct(self.element, fields, spec)

    @property
    def optional(self):
        return not self.nullable.empty

    def swift_element(self):
        if self.element in PRIMITIVES:
            return PRIMITIVES[self.element][0]
        if self.element == "string":
            return "String"
        if self.element == "bytes":
            return "[UInt8]"
        if self.element == "records":
            return "KafkaRecords"
        return self.struct.name

    def swift_type(self):
        base = "[%s]" % self.swift_element() if self.is_array else self.swift_element()
        return base + "?" if self.optional else base

    def default_value(self):
        d = self.default
        if self.optional and (d is None and self.element in ("records",) or d == "null"):
            return "nil"
        if self.is_array:
            return "[]"
        t = self.element
        if t == "bool":
            return "true" if str(d).lower() == "true" else "false"
        if t in ("int8", "int16", "uint16", "int32", "uint32", "int64"):
            if d is None:
                return "0"
            text = str(d)
            return str(int(text, 16)) if text.lower().startswith("0x") else text
        if t == "float64":
            return str(float(d)) if d is not None else "0"
        if t == "uuid":
            return "KafkaUUID.zero"
        if t == "string":
            return json.dumps(d) if d not in (None, "null") else ('""' if not self.optional else "nil")
        if t == "bytes":
            return "[]" if not self.optional else "nil"
        if t == "records":
            return "nil" if self.optional else "KafkaRecords.empty"
        return "%s()" % self.struct.name


class Struct:
    def __init__(self, name, fields, message):
        self.name = name
        self.message = message
        self.fields = []
        self.raw_fields = fields
        self.nested = []

    def resolve(self):
        self.fields = [Field(spec, self.message) for spec in self.raw_fields]


class Message:
    def __init__(self, spec):
        self.spec = spec
        self.name = spec["name"]
        self.kind = spec["type"]
        self.api_key = spec.get("apiKey")
        self.valid = Versions(spec["validVersions"])
        self.flexible = Versions(spec.get("flexibleVersions", "none"))
        self.common = {s["name"]: s for s in spec.get("commonStructs", [])}
        self.structs = {}
        self.root = Struct(self.name, spec["fields"], self)
        self.root.resolve()

    def struct(self, name, fields, field_spec):
        if name in self.structs:
            return self.structs[name]
        if fields is None and name in self.common:
            fields = self.common[name]["fields"]
        if fields is None:
            raise SystemExit("%s: struct %s has no fields" % (self.name, name))
        struct = Struct(name, fields, self)
        self.structs[name] = struct
        struct.resolve()
        return struct


def flexible_expr(message, field=None):
    versions = field.flexible_override if field is not None and field.flexible_override is not None else message.flexible
    return versions.condition("version", message.valid) if not versions.empty else "false"


def read_expr(field, message, element_only=False, nullable_expr="false", flexible="flexible"):
    t = field.element
    if t in PRIMITIVES:
        return "try reader.read%s()" % PRIMITIVES[t][1]
    if t == "string":
        return "try reader.readString(compact: %s)" % flexible
    if t == "bytes":
        return "try reader.readBytes(compact: %s)" % flexible
    if t == "records":
        return "try reader.readRecords(compact: %s)" % flexible
    return "try %s(from: &reader, version: version)" % field.struct.name


def read_field(field, message):
    flexible = "flexible" if field.flexible_override is None else "(%s)" % flexible_expr(message, field)
    nullable = field.nullable.condition("version", message.valid) if field.optional else "false"
    if field.is_array:
        element = read_expr(field, message, flexible=flexible)
        if field.optional:
            return "try reader.readNullableArray(compact: %s, nullable: %s) { reader throws(KafkaProtocolError) in %s }" % (
                flexible, nullable, element)
        return "try reader.readArray(compact: %s) { reader throws(KafkaProtocolError) in %s }" % (flexible, element)
    t = field.element
    if field.optional and t == "string":
        return "try reader.readNullableString(compact: %s, nullable: %s)" % (flexible, nullable)
    if field.optional and t == "bytes":
        return "try reader.readNullableBytes(compact: %s, nullable: %s)" % (flexible, nullable)
    if field.optional and t == "records":
        return "try reader.readNullableRecords(compact: %s, nullable: %s)" % (flexible, nullable)
    if field.optional and field.struct is not None:
        return "try reader.readNullableStruct(nullable: %s) { reader throws(KafkaProtocolError) in try %s(from: &reader, version: version) }" % (
            nullable, field.struct.name)
    return read_expr(field, message, flexible=flexible)


def write_element(t, field, value, flexible):
    if t in PRIMITIVES:
        return "writer.write%s(%s)" % (PRIMITIVES[t][1], value)
    if t == "string":
        return "writer.writeString(%s, compact: %s)" % (value, flexible)
    if t == "bytes":
        return "writer.writeBytes(%s, compact: %s)" % (value, flexible)
    if t == "records":
        return "writer.writeRecords(%s, compact: %s)" % (value, flexible)
    return "%s.encode(into: &writer, version: version)" % value


def write_field(field, message, value):
    flexible = "flexible" if field.flexible_override is None else "(%s)" % flexible_expr(message, field)
    if field.is_array:
        element = write_element(field.element, field, "element", flexible)
        if field.optional:
            return "writer.writeNullableArray(%s, compact: %s) { writer, element in %s }" % (value, flexible, element)
        return "writer.writeArray(%s, compact: %s) { writer, element in %s }" % (value, flexible, element)
    t = field.element
    if field.optional and t == "string":
        return "writer.writeNullableString(%s, compact: %s)" % (value, flexible)
    if field.optional and t == "bytes":
        return "writer.writeNullableBytes(%s, compact: %s)" % (value, flexible)
    if field.optional and t == "records":
        return "writer.writeNullableRecords(%s, compact: %s)" % (value, flexible)
    if field.optional and field.struct is not None:
        return "writer.writeNullableStruct(%s) { writer, value in value.encode(into: &writer, version: version) }" % value
    return write_element(t, field, value, flexible)


def doc(text, indent):
    text = " ".join(text.split())
    if not text:
        return []
    lines, line = [], ""
    for word in text.split(" "):
        if len(line) + len(word) + 1 > 96 - indent:
            lines.append(line)
            line = word
        else:
            line = (line + " " + word).strip()
    if line:
        lines.append(line)
    return [" " * indent + "/// " + l for l in lines]


def struct_body(struct, message, indent, is_root):
    pad = " " * indent
    out = []
    for field in struct.fields:
        out += doc("%s (versions %s%s%s)." % (
            field.about.rstrip("."), field.spec.get("versions"),
            ", nullable " + field.spec["nullableVersions"] if "nullableVersions" in field.spec else "",
            ", tagged %s as tag %s" % (field.spec["taggedVersions"], field.tag) if "taggedVersions" in field.spec else ""), indent)
        out.append("%spublic var %s: %s = %s" % (pad, field.prop, field.swift_type(), field.default_value()))
    out.append("")
    out.append("%spublic init() {}" % pad)
    out.append("")
    # Nested structs of the root are emitted at the root level as nested types.
    # Decoding
    out.append("%s/// Decodes the %s of `version` from `reader`." % (pad, "message" if is_root else "structure"))
    out.append("%spublic init(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) {" % pad)
    body = []
    flex = flexible_expr(message)
    tagged = []
    for field in struct.fields:
        if field.versions.empty:
            continue
        in_version = field.versions.condition("version", message.valid)
        if not field.tagged.empty:
            tagged.append(field)
            normal = None
            # A field tagged only in some of its versions is a normal field in the others.
            if field.tagged.low is not None and field.versions.low is not None and field.versions.low < field.tagged.low:
                normal = "version < %d && (%s)" % (field.tagged.low, in_version)
            if normal is None:
                continue
            in_version = normal
        statement = "%s = %s" % (field.prop, read_field(field, message))
        if in_version == "true":
            body.append(statement)
        else:
            body.append("if %s { %s }" % (in_version, statement))
    if message.flexible.empty:
        pass
    else:
        if tagged:
            cases = []
            for field in tagged:
                cond = field.tagged.condition("version", message.valid)
                guard = "" if cond == "true" else " where %s" % cond
                cases.append("case %d%s: %s = %s" % (field.tag, guard, field.prop, read_field(field, message)))
            body.append("if flexible {")
            body.append("    try reader.readTaggedFields { (tag, reader) throws(KafkaProtocolError) -> Bool in")
            body.append("        switch tag {")
            for case in cases:
                body.append("        " + case)
                body.append("            return true")
            body.append("        default: return false")
            body.append("        }")
            body.append("    }")
            body.append("}")
        else:
            body.append("if flexible { try reader.readTaggedFields { (_, _) throws(KafkaProtocolError) -> Bool in false } }")
    if any("flexible" in line for line in body):
        body.insert(0, "let flexible = %s" % flex)
    out += ["%s    %s" % (pad, line) if line else "" for line in body]
    out.append("%s}" % pad)
    out.append("")
    # Encoding
    out.append("%s/// Encodes the %s as `version` lays it out." % (pad, "message" if is_root else "structure"))
    out.append("%spublic func encode(into writer: inout KafkaWriter, version: Int16) {" % pad)
    body = []
    for field in struct.fields:
        if field.versions.empty or not field.tagged.empty:
            if field.tagged.empty:
                continue
            if not (field.tagged.low is not None and field.versions.low is not None and field.versions.low < field.tagged.low):
                continue
            in_version = "version < %d && (%s)" % (field.tagged.low, field.versions.condition("version", message.valid))
        else:
            in_version = field.versions.condition("version", message.valid)
        statement = write_field(field, message, field.prop)
        body.append(statement if in_version == "true" else "if %s { %s }" % (in_version, statement))
    if not message.flexible.empty:
        if tagged:
            body.append("if flexible {")
            body.append("    var tagged: [(tag: UInt32, write: (inout KafkaWriter) -> Void)] = []")
            for field in tagged:
                cond = field.tagged.condition("version", message.valid)
                default = field.default_value()
                differs = "%s != %s" % (field.prop, default)
                if field.struct is not None and not field.is_array and not field.optional:
                    differs = "%s != %s()" % (field.prop, field.struct.name)
                full = differs if cond == "true" else "(%s) && %s" % (cond, differs)
                body.append("    if %s {" % full)
                body.append("        tagged.append((%d, { writer in %s }))" % (field.tag, write_field(field, message, "self.%s" % field.prop.strip("`"))))
                body.append("    }")
            body.append("    writer.writeTaggedFields(tagged)")
            body.append("}")
        else:
            body.append("if flexible { writer.writeUnsignedVarint(0) }")
    if any("flexible" in line for line in body):
        body.insert(0, "let flexible = %s" % flex)
    out += ["%s    %s" % (pad, line) if line else "" for line in body]
    out.append("%s}" % pad)
    return out


def generate(message):
    lines = [
        "// Generated by Scripts/generate-kafka-messages.py from Kafka's %s.json; do not edit." % message.name,
        "// swift-format-ignore-file",
        "",
        "import NIOCore",
        "",
    ]
    kind = {"request": "request", "response": "response", "header": "header"}[message.kind]
    about = "Kafka's %s %s" % (message.name, kind)
    if message.api_key is not None:
        about += " (API key %d)" % message.api_key
    about += ", versions %s" % message.spec["validVersions"]
    if not message.flexible.empty:
        about += ", flexible from %d" % message.flexible.low
    lines += doc(about + ".", 0)
    conformance = "KafkaMessage, " if message.api_key is not None else ""
    lines.append("public struct %s: %sSendable, Hashable {" % (message.name, conformance))
    if message.api_key is not None:
        lines.append("    public static let apiKey: Int16 = %d" % message.api_key)
    lines.append("    public static let versions: ClosedRange<Int16> = %d...%d" % (message.valid.low, message.valid.high))
    if not message.flexible.empty:
        lines.append("    public static let firstFlexibleVersion: Int16? = %d" % message.flexible.low)
    else:
        lines.append("    public static let firstFlexibleVersion: Int16? = nil")
    lines.append("")
    lines += struct_body(message.root, message, 4, True)
    for name in message.structs:
        struct = message.structs[name]
        lines.append("")
        lines.append("    /// One %s of a %s." % (name, message.name))
        lines.append("    public struct %s: Sendable, Hashable {" % name)
        lines += struct_body(struct, message, 8, False)
        lines.append("    }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main():
    os.makedirs(OUT, exist_ok=True)
    apis = {}
    for file in sorted(os.listdir(SCHEMAS)):
        if not file.endswith(".json"):
            continue
        message = Message(load(os.path.join(SCHEMAS, file)))
        with open(os.path.join(OUT, message.name + ".swift"), "w") as out:
            out.write(generate(message))
        if message.api_key is not None:
            apis.setdefault(message.api_key, {})[message.kind] = message
    lines = [
        "// Generated by Scripts/generate-kafka-messages.py; do not edit.",
        "// swift-format-ignore-file",
        "",
        "/// The APIs whose messages are generated: key, name, the versions the schemas define and the",
        "/// first flexible version.",
        "public enum KafkaAPI: Int16, Sendable, CaseIterable {",
    ]
    for key in sorted(apis):
        name = apis[key]["request"].name[: -len("Request")]
        lines.append("    case %s = %d" % (name[0].lower() + name[1:], key))
    lines.append("")
    lines.append("    /// The versions Kafka's schema defines for this API.")
    lines.append("    public var definedVersions: ClosedRange<Int16> {")
    lines.append("        switch self {")
    for key in sorted(apis):
        request = apis[key]["request"]
        name = request.name[: -len("Request")]
        lines.append("        case .%s: %s.versions" % (name[0].lower() + name[1:], request.name))
    lines.append("        }")
    lines.append("    }")
    lines.append("")
    lines.append("    /// The first version whose request header is flexible (header v2) and whose response header")
    lines.append("    /// is v1; nil when no version is flexible.")
    lines.append("    public var firstFlexibleVersion: Int16? {")
    lines.append("        switch self {")
    for key in sorted(apis):
        request = apis[key]["request"]
        name = request.name[: -len("Request")]
        lines.append("        case .%s: %s.firstFlexibleVersion" % (name[0].lower() + name[1:], request.name))
    lines.append("        }")
    lines.append("    }")
    for kind in ("request", "response"):
        lines.append("")
        lines.append("    /// The generated %s message of this API." % kind)
        lines.append("    public var %sType: any KafkaMessage.Type {" % kind)
        lines.append("        switch self {")
        for key in sorted(apis):
            name = apis[key]["request"].name[: -len("Request")]
            lines.append("        case .%s: %s.self" % (name[0].lower() + name[1:], apis[key][kind].name))
        lines.append("        }")
        lines.append("    }")
    lines.append("}")
    with open(os.path.join(OUT, "KafkaAPI.swift"), "w") as out:
        out.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
