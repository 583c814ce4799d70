"""C2SP signed notes (c2sp.org/signed-note), checkpoints (c2sp.org/tlog-checkpoint),
verifier keys and Ed25519 cosignatures (c2sp.org/tlog-cosignature).

A note is its text (ending in a newline), a blank line, then lines
``— <key name> base64(4-byte key id || signature)``. A key id is the first four bytes of
SHA-256(key name || 0x0A || signature type || public key): 0x01 for a log's Ed25519 key,
0x04 for a witness's timestamped Ed25519 cosignature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .merkle import verify_consistency

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
_DASH = "\u2014 "


class NoteError(ValueError):
    """A note, key or checkpoint that is malformed or does not verify."""


def key_id(name: str, sig_type: int, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public_key).digest()[:4]


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError(f"{what} is not valid base64") from exc


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise NoteError(f"key name {name!r} must be non-empty, without spaces or '+'")


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class VerifierKey:
    """``<name>+<hex key id>+<base64(type || public key)>``."""

    name: str
    sig_type: int
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.sig_type, self.public_key)

    def __str__(self) -> str:
        encoded = base64.b64encode(bytes([self.sig_type]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        parts = text.strip().split("+", 2)  # base64 may hold '+'
        if len(parts) != 3:
            raise NoteError("a verifier key reads <name>+<hex key id>+<base64 key>")
        name, hex_id, encoded = parts
        _check_name(name)
        raw = _b64decode(encoded, "the verifier key")
        if len(raw) != 33 or raw[0] not in (ED25519, COSIGNATURE_V1):
            raise NoteError("the verifier key is not an Ed25519 key (type 0x01 or 0x04)")
        key = cls(name, raw[0], raw[1:])
        if hex_id.lower() != key.key_id.hex():
            raise NoteError(f"the verifier key's id {hex_id} does not match its name and key")
        return key

    def ed25519(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.public_key)


@dataclass(frozen=True)
class SignerKey:
    """``PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || 32-byte seed)>`` (as Go's note)."""

    name: str
    private_key: Ed25519PrivateKey

    @property
    def verifier(self) -> VerifierKey:
        return VerifierKey(self.name, ED25519, public_bytes(self.private_key.public_key()))

    def __str__(self) -> str:
        seed = self.private_key.private_bytes_raw()
        encoded = base64.b64encode(bytes([ED25519]) + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id.hex()}+{encoded}"

    @classmethod
    def generate(cls, name: str) -> SignerKey:
        _check_name(name)
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def parse(cls, text: str) -> SignerKey:
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteError("a signing key reads PRIVATE+KEY+<name>+<hex key id>+<base64 key>")
        name, hex_id, encoded = parts[2:]
        _check_name(name)
        raw = _b64decode(encoded, "the signing key")
        if len(raw) != 33 or raw[0] != ED25519:
            raise NoteError("the signing key is not an Ed25519 key")
        key = cls(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if hex_id.lower() != key.verifier.key_id.hex():
            raise NoteError(f"the signing key's id {hex_id} does not match its name and key")
        return key

    def signature_line(self, text: str) -> str:
        signature = self.private_key.sign(text.encode())
        encoded = base64.b64encode(self.verifier.key_id + signature).decode()
        return f"{_DASH}{self.name} {encoded}\n"

    def sign(self, text: str) -> str:
        """The signed note: ``text``, a blank line, this key's signature line."""
        return f"{text}\n{self.signature_line(text)}"


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        return f"{_DASH}{self.name} {base64.b64encode(self.key_id + self.signature).decode()}\n"


@dataclass(frozen=True)
class Note:
    text: str
    signatures: list[Signature] = field(default_factory=list)

    def __str__(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)


def parse_note(raw: str) -> Note:
    if any(ord(c) < 0x20 and c != "\n" for c in raw):
        raise NoteError("the note holds control characters")
    text, sep, block = raw.rpartition("\n\n")
    if not sep or not text:
        raise NoteError("the note has no signature block (a blank line, then signature lines)")
    text += "\n"
    if not block.endswith("\n"):
        raise NoteError("the note does not end with a newline")
    signatures = []
    for line in block[:-1].split("\n"):
        if not line.startswith(_DASH):
            raise NoteError(f"malformed signature line {line[:60]!r}")
        name, _, encoded = line[len(_DASH) :].partition(" ")
        raw_sig = _b64decode(encoded, f"the signature of {name}")
        if len(raw_sig) < 5:
            raise NoteError(f"the signature of {name} is too short")
        signatures.append(Signature(name, raw_sig[:4], raw_sig[4:]))
    return Note(text, signatures)


def verify_note(note: Note, key: VerifierKey) -> None:
    """The note carries a valid signature by ``key`` (type 0x01); else ``NoteError``."""
    mine = [s for s in note.signatures if s.name == key.name and s.key_id == key.key_id]
    if not mine:
        named = sorted({s.name for s in note.signatures})
        raise NoteError(
            f"no signature by the key {key.name}+{key.key_id.hex()} (signed by: {', '.join(named)})"
        )
    for sig in mine:
        try:
            key.ed25519().verify(sig.signature, note.text.encode())
        except InvalidSignature:
            raise NoteError(f"the signature by {key.name} is wrong") from None


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        root = base64.b64encode(self.root_hash).decode()
        return "".join(
            f"{line}\n" for line in (self.origin, str(self.size), root, *self.extensions)
        )

    def check_extends(self, older: Checkpoint, proof: Sequence[bytes]) -> None:
        """This tree holds ``older``'s events unchanged (RFC 9162 §2.1.4.2, with the
        consistency ``proof`` between them); raises ``ProofError`` naming what is wrong."""
        verify_consistency(
            old_size=older.size,
            new_size=self.size,
            old_root=older.root_hash,
            new_root=self.root_hash,
            proof=proof,
        )


def parse_checkpoint(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise NoteError("a checkpoint is an origin line, a size line and a root hash line")
    origin, size_text, root_text, *extensions = lines[:-1]
    if not origin:
        raise NoteError("the checkpoint has no origin")
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise NoteError(f"the checkpoint size {size_text!r} is not a decimal number")
    root = _b64decode(root_text, "the checkpoint root hash")
    if len(root) != 32:
        raise NoteError("the checkpoint root hash is not 32 bytes")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


def open_checkpoint(raw: str, key: VerifierKey, *, origin: str | None = None) -> Checkpoint:
    """Parse a signed checkpoint and check its log signature and origin."""
    note = parse_note(raw)
    verify_note(note, key)
    checkpoint = parse_checkpoint(note.text)
    expected = origin if origin is not None else key.name
    if checkpoint.origin != expected:
        raise NoteError(f"the checkpoint is for the log {checkpoint.origin!r}, not {expected!r}")
    return checkpoint


def cosigned_message(body: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


def cosign(body: str, *, name: str, private_key: Ed25519PrivateKey, timestamp: int) -> Signature:
    """A witness's timestamped Ed25519 cosignature (type 0x04) of a checkpoint body."""
    public = public_bytes(private_key.public_key())
    signature = private_key.sign(cosigned_message(body, timestamp))
    return Signature(
        name, key_id(name, COSIGNATURE_V1, public), struct.pack(">Q", timestamp) + signature
    )


def verify_cosignature(body: str, signature: Signature, key: VerifierKey) -> int:
    """Check one cosignature of ``body`` by ``key``; return its timestamp."""
    if key.sig_type != COSIGNATURE_V1:
        raise NoteError(f"{key.name} is not a cosigner key (type 0x04)")
    if signature.name != key.name or signature.key_id != key.key_id:
        raise NoteError(f"the cosignature is not by {key.name}+{key.key_id.hex()}")
    if len(signature.signature) != 72:
        raise NoteError(f"the cosignature by {key.name} is not timestamped Ed25519")
    (timestamp,) = struct.unpack(">Q", signature.signature[:8])
    try:
        key.ed25519().verify(signature.signature[8:], cosigned_message(body, timestamp))
    except InvalidSignature:
        raise NoteError(f"the cosignature by {key.name} is wrong") from None
    return int(timestamp)
