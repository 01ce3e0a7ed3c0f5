"""The README.txt of a court bundle: what it holds and how anyone can verify it, with or without our tools."""

from __future__ import annotations

from wire import bundle as wb

TEMPLATE = """Court bundle for case {case_number} (public reference {public_reference})
Made {made_at} by {made_by} at the Canvass hub whose audit log is "{origin}".

WHAT IS IN IT
  {clips} clip(s) under clips/, each exactly as the camera's appliance uploaded it, beside the manifest the
  appliance signed with its own key (clips/request-N/manifest.json); the appliances' certificates and the
  hub's CA certificate under certificates/; {entries} audit log entries about the case's requests, the owners'
  decisions, the uploads and downloads (audit/entries.jsonl), each with its inclusion proof, and the signed
  checkpoint of the log they lead to (audit/checkpoint.txt). bundle.json lists it all.
{left_out}
HOW TO VERIFY (one command, offline)
  canvass-audit verify-bundle THIS.zip --key AUDIT_PUBLIC_KEY

  AUDIT_PUBLIC_KEY is the city's published audit key (base64, or a file with it in base64 or PEM). The key
  inside this bundle (bundle.json, "audit_public_key") is

      {public_key}

  An auditor should compare it with the one the city publishes, or pass that one with --key: without it the
  bundle only proves it is consistent with itself, not that it comes from the city's log. The command names
  exactly what fails.

WHAT IT CHECKS (and how to check it by hand)
  1. Each clip against its manifest: SHA-256 and size of clip.mp4 equal clip_sha256 and clip_bytes in the
     manifest (sha256sum clip.mp4).
  2. The manifest's signature: ECDSA P-256 with SHA-256 over the exact text of its "manifest" field (UTF-8),
     by the key of the certificate it carries (the same as certificates/<device>-<hash>.pem).
  3. That certificate was issued by the hub's CA and was valid when the manifest was made:
     openssl verify -CAfile certificates/hub-ca.pem certificates/<device>-<hash>.pem
  4. Each audit entry is in the log: its leaf hash SHA-256(0x00 || entry text) and its proof rebuild the root
     hash in audit/checkpoint.txt (RFC 6962 / RFC 9162 inclusion proof).
  5. The checkpoint is signed by the audit key (Ed25519, C2SP signed note).
  6. Every clip's manifest names its request, and the log holds that request's successful upload entry
     ("clip.upload", "request:N") with the clip's SHA-256.
"""


def readme(index: wb.BundleIndex, entries: int) -> str:
    left_out = "".join(f"  Not included: {why}.\n" for why in index.left_out)
    return TEMPLATE.format(case_number=index.case_number, public_reference=index.public_reference,
                           made_at=index.made_at.isoformat(), made_by=index.made_by, origin=index.audit_origin,
                           clips=len(index.clips), entries=entries, public_key=index.audit_public_key,
                           left_out="\n" + left_out if left_out else "")
