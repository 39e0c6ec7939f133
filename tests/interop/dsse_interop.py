#!/usr/bin/env python3
"""OXIDE approvals checked by an independent DSSE implementation (securesystemslib).

No OXIDE code is used here: the envelope is parsed and verified by
``securesystemslib.dsse.Envelope``, the public keys come from the committed trust
registry (``.oxide/approvers.toml``, read with the standard library's ``tomllib``) and
are turned into ``SSlibKey`` ed25519 verifiers with pyca/cryptography. The keyid is
recomputed here as the lowercase hex sha256 of the 32 raw public-key bytes, as
docs/approvals.md documents it.

Modes (all print JSON on stdout; exit 0 = success, 1 = verification failed,
2 = bad usage/input):

  verify REGISTRY_FILE ENVELOPE_FILE...
      Verifies every envelope against the registry's keys (threshold 1) and prints one
      JSON object per envelope: {"file", "keyid", "person", "statement"}.
  public
      Reads {"seed": "<64 hex>"} on stdin; prints {"keyid", "public"} (OpenSSH).
  sign
      Reads {"seed": "<64 hex>", "statement": {...}} on stdin; signs the statement as
      an in-toto DSSE envelope with securesystemslib's CryptoSigner and prints it.

The seed of the test key travels on stdin only: it is never written to a file.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tomllib

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_ssh_public_key,
)
from securesystemslib import exceptions
from securesystemslib.dsse import Envelope
from securesystemslib.signer import CryptoSigner, SSlibKey

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"


def fail(code: int, message: str) -> None:
    print(json.dumps({"error": message}))
    print(f"dsse_interop: {message}", file=sys.stderr)
    sys.exit(code)


def raw_public(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def keyid_of(public: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw_public(public)).hexdigest()


def sslib_key(public: Ed25519PublicKey) -> SSlibKey:
    return SSlibKey.from_crypto(public, keyid=keyid_of(public), scheme="ed25519")


def registry_keys(path: str) -> tuple[list[SSlibKey], dict[str, str]]:
    with open(path, "rb") as f:
        registry = tomllib.load(f)
    keys: list[SSlibKey] = []
    owner: dict[str, str] = {}
    for person in registry.get("person", []):
        for entry in person.get("keys", []):
            public = load_ssh_public_key(entry["public"].encode())
            if not isinstance(public, Ed25519PublicKey):
                fail(2, f"{person['id']}: not an ed25519 key: {entry['public'][:40]}")
            key = sslib_key(public)
            keys.append(key)
            owner[key.keyid] = person["id"]
    return keys, owner


def verify(args: list[str]) -> None:
    if len(args) < 2:
        fail(2, "usage: dsse_interop.py verify REGISTRY_FILE ENVELOPE_FILE...")
    keys, owner = registry_keys(args[0])
    if not keys:
        fail(2, f"{args[0]} registers no keys")
    ok = True
    for name in args[1:]:
        with open(name, encoding="utf-8") as f:
            data = json.load(f)
        envelope = Envelope.from_dict(data)
        if envelope.payload_type != PAYLOAD_TYPE:
            fail(1, f"{name}: payloadType {envelope.payload_type!r}")
        try:
            accepted = envelope.verify(keys, 1)
        except exceptions.VerificationError as e:
            print(json.dumps({"file": name, "verified": False, "error": str(e)}))
            ok = False
            continue
        statement = json.loads(envelope.payload)
        if statement.get("_type") != STATEMENT_TYPE:
            fail(1, f"{name}: not an in-toto Statement v1: {statement.get('_type')!r}")
        keyid = next(iter(accepted))
        print(
            json.dumps(
                {
                    "file": name,
                    "verified": True,
                    "keyid": keyid,
                    "person": owner[keyid],
                    "statement": statement,
                }
            )
        )
    sys.exit(0 if ok else 1)


def private_from_stdin() -> tuple[Ed25519PrivateKey, dict]:
    request = json.load(sys.stdin)
    seed = bytes.fromhex(request["seed"])
    if len(seed) != 32:
        fail(2, "the seed must be 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(seed), request


def public() -> None:
    private, _ = private_from_stdin()
    pub = private.public_key()
    openssh = pub.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    print(json.dumps({"keyid": keyid_of(pub), "public": openssh}))


def sign() -> None:
    private, request = private_from_stdin()
    signer = CryptoSigner(private, sslib_key(private.public_key()))
    payload = json.dumps(request["statement"], separators=(",", ":")).encode()
    envelope = Envelope(payload, PAYLOAD_TYPE, {})
    envelope.sign(signer)
    # Our own signature must verify with securesystemslib before it is handed over.
    envelope.verify([signer.public_key], 1)
    print(json.dumps(envelope.to_dict()))


def main() -> None:
    if len(sys.argv) < 2:
        fail(2, "usage: dsse_interop.py verify|public|sign ...")
    mode, rest = sys.argv[1], sys.argv[2:]
    if mode == "verify":
        verify(rest)
    elif mode == "public":
        public()
    elif mode == "sign":
        sign()
    else:
        fail(2, f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
