"""Typed boundaries: every MQTT reply and the audit entry against golden bytes that round-trip exactly, and
what each refuses."""

from __future__ import annotations

import datetime as dt
import json
import typing
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wire import audit as wa
from wire import enrolment as we
from wire import messages as m

REQUEST = uuid.UUID("00000000-0000-4000-8000-000000000001")
SESSION = uuid.UUID("00000000-0000-4000-8000-000000000002")
AT = dt.datetime(2026, 12, 1, 21, 37, 42, 123456, tzinfo=dt.timezone.utc)
SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"

GOLDEN_REPLIES = [
    (m.Pong(), '{"kind":"pong"}'),
    (m.HotListTaken(version=7, entries=2), '{"kind":"hotlist.taken","version":7,"entries":2}'),
    (m.PolicyTaken(camera="front", version=3), '{"kind":"consent.policy_taken","camera":"front","version":3}'),
    (m.OwnerKeyTaken(accepted=True, reason="held", fingerprint="53B6 37CE 205C 7AF9"),
     '{"kind":"consent.owner_key_taken","accepted":true,"reason":"held","fingerprint":"53B6 37CE 205C 7AF9"}'),
    (m.GrantDecision(accepted=False, reason="grant expired"),
     '{"kind":"access.decision","accepted":false,"reason":"grant expired"}'),
    (m.StreamOffer(accepted=True, reason="accepted", sdp=SDP, deadline=AT),
     '{"kind":"stream.offer","accepted":true,"reason":"accepted","sdp":"v=0\\r\\no=- 1 1 IN IP4 127.0.0.1\\r\\n",'
     '"deadline":"2026-12-01T21:37:42.123456Z"}'),
    (m.StreamOffer(accepted=False, reason="sharing is off for this camera"),
     '{"kind":"stream.offer","accepted":false,"reason":"sharing is off for this camera"}'),
    (m.AnswerTaken(session_id=SESSION),
     '{"kind":"stream.answer_taken","session_id":"00000000-0000-4000-8000-000000000002"}'),
    (m.StreamStopped(session_id=SESSION, duration_s=12.5),
     '{"kind":"stream.stopped","session_id":"00000000-0000-4000-8000-000000000002","already_ended":false,'
     '"duration_s":12.5}'),
    (m.KeepaliveTaken(unknown=[SESSION]),
     '{"kind":"stream.keepalive_taken","unknown":["00000000-0000-4000-8000-000000000002"]}'),
    (m.PlaybackState(position=AT, paused=True, speed=0.25),
     '{"kind":"stream.playback_state","position":"2026-12-01T21:37:42.123456Z","paused":true,"speed":0.25}'),
]


@pytest.mark.parametrize("result, text", GOLDEN_REPLIES)
def test_each_reply_matches_its_golden_bytes_and_round_trips(result, text: str):
    golden = f'{{"v":1,"request_id":"{REQUEST}","ok":true,"error":"","result":{text}}}'.encode()
    assert m.encode(m.Reply(request_id=REQUEST, ok=True, result=result)) == golden
    decoded = m.decode(m.Reply, golden)
    assert decoded.result == result and type(decoded.result) is type(result)
    assert m.encode(decoded) == golden


def test_every_command_has_exactly_one_reply_type_and_every_reply_type_answers_a_command():
    commands = typing.get_args(typing.get_args(m.CommandBody)[0])
    results = typing.get_args(typing.get_args(m.ReplyResult)[0])
    assert set(m.RESULT_OF) == set(commands)
    assert set(m.RESULT_OF.values()) == set(results)
    assert {r.model_fields["kind"].default for r in results}.isdisjoint(
        {c.model_fields["kind"].default for c in commands})


def test_a_failed_reply_carries_its_error_and_no_result():
    failed = m.decode(m.Reply, f'{{"v":1,"request_id":"{REQUEST}","ok":false,"error":"no session"}}'.encode())
    assert failed.result is None and failed.error == "no session"
    with pytest.raises(m.WireError, match="no session"):
        m.result_of(failed, m.PlaybackState)


@pytest.mark.parametrize("payload, problem", [
    ('{"v":1,"request_id":"%s","ok":true}', "successful reply carries its result"),
    ('{"v":1,"request_id":"%s","ok":false,"error":"x","result":{"kind":"pong"}}', "failed reply carries an error"),
    ('{"v":1,"request_id":"%s","ok":true,"result":{"kind":"surprise"}}', "result"),
    ('{"v":1,"request_id":"%s","ok":true,"result":{"hotlist_version":3}}', "result"),
    ('{"v":1,"request_id":"%s","ok":true,"result":{"kind":"stream.offer","accepted":true,"reason":"ok"}}',
     "accepted stream needs an offer"),
    ('{"v":1,"request_id":"%s","ok":true,"result":{"kind":"stream.offer","accepted":false,"reason":"no",'
     '"sdp":"v=0 an offer anyway"}}', "refused stream carries no offer"),
    ('{"v":1,"request_id":"%s","ok":true,"result":{"kind":"pong","extra":1}}', "result.pong.extra"),
])
def test_replies_that_are_not_what_the_format_says_are_refused(payload: str, problem: str):
    with pytest.raises(m.WireError, match=problem):
        m.decode(m.Reply, (payload % REQUEST).encode())


def test_a_reply_of_another_kind_than_the_command_expects_is_refused():
    reply = m.Reply(request_id=REQUEST, ok=True, result=m.Pong())
    assert m.result_of(reply, m.Pong) == m.Pong()
    with pytest.raises(m.WireError, match="Pong where StreamOffer was expected"):
        m.result_of(reply, m.StreamOffer)


# ---------------------------------------------------------------- events: camera status and plate reads

STREAM = uuid.UUID("00000000-0000-4000-8000-000000000003")
EVENT = uuid.UUID("00000000-0000-4000-8000-000000000004")
#: The smallest JPEG-looking bytes (start-of-image, then an APP0 marker): the wire checks the signature only.
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"

GOLDEN_EVENTS = [
    # Not paused: the same bytes as before `sharing_paused` existed, so a hub that predates it still takes it.
    (m.CameraStatus(camera="front", status="recording"),
     '{"kind":"camera_status","camera":"front","status":"recording","detail":""}'),
    (m.CameraStatus(camera="front", status="recording", sharing_paused=True),
     '{"kind":"camera_status","camera":"front","status":"recording","detail":"","sharing_paused":true}'),
    (m.CameraStatus(camera="front", status="offline", detail="no route to host", sharing_paused=True),
     '{"kind":"camera_status","camera":"front","status":"offline","detail":"no route to host",'
     '"sharing_paused":true}'),
    (m.PlateRead(camera="front", plate="ABC1234", confidence=0.93, first_seen=AT, last_seen=AT),
     '{"kind":"plate_read","camera":"front","plate":"ABC1234","confidence":0.93,'
     '"first_seen":"2026-12-01T21:37:42.123456Z","last_seen":"2026-12-01T21:37:42.123456Z"}'),
    (m.PlateRead(camera="front", plate="ABC1234", confidence=0.93, first_seen=AT, last_seen=AT,
                 hit=m.HotListHit(list_name="stolen", entry_plate="A8C1234", reason="stolen vehicle"),
                 thumbnail_jpeg=m.PlateRead.encode_thumbnail(JPEG)),
     '{"kind":"plate_read","camera":"front","plate":"ABC1234","confidence":0.93,'
     '"first_seen":"2026-12-01T21:37:42.123456Z","last_seen":"2026-12-01T21:37:42.123456Z",'
     '"hit":{"list_name":"stolen","entry_plate":"A8C1234","reason":"stolen vehicle"},'
     '"thumbnail_jpeg":"/9j/4AAQSkZJRgA="}'),
    (m.Witnessed(note="canvass.example/audit\n5\n/hSlQm+9cMD6c/UjQq/tDaC9I8SDhmLM9riKMHDq2Xs=\n\n"
                      "\u2014 canvass.example/audit AAAA\n"),
     '{"kind":"witnessed","note":"canvass.example/audit\\n5\\n/hSlQm+9cMD6c/UjQq/tDaC9I8SDhmLM9riKMHDq2Xs=\\n\\n'
     '\u2014 canvass.example/audit AAAA\\n"}'),
]


@pytest.mark.parametrize("body, text", GOLDEN_EVENTS)
def test_each_event_matches_its_golden_bytes_and_round_trips(body, text: str):
    golden = (f'{{"v":1,"stream":"{STREAM}","seq":7,"id":"{EVENT}","at":"2026-12-01T21:37:42.123456Z",'
              f'"body":{text}}}').encode()
    assert m.encode(m.EventEnvelope(stream=STREAM, seq=7, id=EVENT, at=AT, body=body)) == golden
    decoded = m.decode(m.EventEnvelope, golden)
    assert decoded.body == body and type(decoded.body) is type(body)
    assert m.encode(decoded) == golden


def test_a_camera_status_says_paused_only_when_it_is():
    assert not m.CameraStatus(camera="front", status="recording").paused  # a box that predates the field
    assert not m.CameraStatus(camera="front", status="recording", sharing_paused=False).paused
    assert m.CameraStatus(camera="front", status="offline", sharing_paused=True).paused


def test_a_plate_read_carries_its_thumbnail_as_jpeg_bytes():
    read = m.decode(m.EventEnvelope, m.encode(m.EventEnvelope(stream=STREAM, seq=1, id=EVENT, at=AT, body=m.PlateRead(
        camera="front", plate="ABC1234", confidence=0.5, first_seen=AT, last_seen=AT,
        thumbnail_jpeg=m.PlateRead.encode_thumbnail(JPEG))))).body
    assert read.thumbnail() == JPEG
    assert m.PlateRead(camera="front", plate="ABC1234", confidence=0.5, first_seen=AT, last_seen=AT).thumbnail() is None


def test_the_largest_thumbnail_fits_in_one_payload():
    largest = JPEG + bytes(m.MAX_THUMBNAIL_BYTES - len(JPEG))
    body = m.PlateRead(camera="c" * 32, plate="A" * 10, confidence=1, first_seen=AT, last_seen=AT,
                       hit=m.HotListHit(list_name="l" * 100, entry_plate="A" * 10, reason="r" * 500),
                       thumbnail_jpeg=m.PlateRead.encode_thumbnail(largest))
    payload = m.encode(m.EventEnvelope(stream=STREAM, seq=2**40, id=EVENT, at=AT, body=body))
    assert len(payload) < m.MAX_PAYLOAD_BYTES
    assert m.decode(m.EventEnvelope, payload).body.thumbnail() == largest


@pytest.mark.parametrize("thumbnail, problem", [
    ("not base64!", "thumbnail_jpeg is not base64"),
    (m.PlateRead.encode_thumbnail(b"GIF89a not a jpeg"), "thumbnail_jpeg is not a JPEG"),
    (m.PlateRead.encode_thumbnail(JPEG + bytes(m.MAX_THUMBNAIL_BYTES)), "thumbnail_jpeg"),
])
def test_a_thumbnail_that_is_not_a_bounded_jpeg_is_refused(thumbnail: str, problem: str):
    body = {"kind": "plate_read", "camera": "front", "plate": "ABC1234", "confidence": 0.5,
            "first_seen": "2026-12-01T21:37:42Z", "last_seen": "2026-12-01T21:37:42Z", "thumbnail_jpeg": thumbnail}
    envelope = {"v": 1, "stream": str(STREAM), "seq": 1, "id": str(EVENT), "at": "2026-12-01T21:37:42Z",
                "body": body}
    with pytest.raises(m.WireError, match=problem):
        m.decode(m.EventEnvelope, json.dumps(envelope).encode())


# ---------------------------------------------------------------- the audit entry

GOLDEN_ENTRY = (
    b'{"action":"access.grant","actor":"ana","at":"2026-12-01T21:37:42.123456Z","case_number":"2026-000777",'
    b'"details":{"grant_id":"00000000-0000-4000-8000-000000000002","mode":"live","purpose":"other","unit":""},'
    b'"index":41,"object":"camera:dev-aaaaaaaaaaaa/front","outcome":"success",'
    b'"reason":"Burglary at the bakery, \xc3\xa9vidence","source":"127.0.0.1"}')


def golden_entry() -> wa.AuditEntry:
    return wa.AuditEntry(index=41, at=AT.astimezone(dt.timezone(dt.timedelta(hours=-5))), actor="ana",
                         action="access.grant", object="camera:dev-aaaaaaaaaaaa/front", outcome="success",
                         source="127.0.0.1", reason="Burglary at the bakery, évidence", case_number="2026-000777",
                         details={"unit": "", "purpose": "other", "mode": "live", "grant_id": str(SESSION)})


def test_the_audit_entry_matches_its_golden_bytes_in_utc_and_round_trips():
    assert golden_entry().canonical() == GOLDEN_ENTRY
    assert wa.AuditEntry.parse(GOLDEN_ENTRY).canonical() == GOLDEN_ENTRY
    details = wa.AuditEntry.parse(GOLDEN_ENTRY).details_as(wa.GrantDetails)
    assert details.grant_id == str(SESSION) and details.mode == "live"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63) | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(index=st.integers(0, 2**62), text=st.text(max_size=40),
       details=st.dictionaries(st.text(max_size=10), json_values, max_size=5),
       at=st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1),
                       timezones=st.just(dt.timezone.utc)))
def test_any_entry_the_hub_can_write_parses_back_to_the_same_bytes(index, text, details, at):
    entry = wa.AuditEntry(index=index, at=at, actor=text, action="x.y", object=text, outcome="success", source="",
                          reason=text, case_number=text, details=details)
    assert wa.AuditEntry.parse(entry.canonical()).canonical() == entry.canonical()


@pytest.mark.parametrize("text", [
    b"", b"[]", b"not json", GOLDEN_ENTRY.replace(b'"index":41', b'"index":"41"'),
    GOLDEN_ENTRY.replace(b'"index":41', b'"index":-1'), GOLDEN_ENTRY.replace(b'"actor":"ana",', b""),
    GOLDEN_ENTRY.replace(b'"index":41', b'"index":41,"extra":1'),
])
def test_text_that_is_not_an_audit_entry_is_refused_clearly(text: bytes):
    with pytest.raises(wa.AuditFormatError, match="^not an audit entry: "):
        wa.AuditEntry.parse(text)


def test_an_approval_is_read_strictly():
    approval = golden_entry().model_copy(update={"action": "access.owner_decision", "details": {
        "approved": True, "camera": "front", "device_id": "dev-aaaaaaaaaaaa", "mode": "playback",
        "window_from": "2026-12-01T10:00:00+00:00", "window_to": "2026-12-01T10:05:00+00:00", "request_id": 4}})
    read = approval.details_as(wa.ApprovalDetails)
    assert read.approved is True and read.window_to - read.window_from == dt.timedelta(minutes=5)
    for wrong in ({"approved": "true"}, {"approved": 1}, {"camera": None}):
        forged = approval.model_copy(update={"details": {**approval.details, **wrong}})
        with pytest.raises(wa.AuditFormatError, match="ApprovalDetails"):
            forged.details_as(wa.ApprovalDetails)


# ---------------------------------------------------------------- HTTP payloads the box reads


def test_the_enrolment_answer_and_the_checkpoint_are_read_with_their_models():
    answer = we.EnrollOut(device_id="dev-aaaaaaaaaaaa", certificate_pem="C", ca_chain_pem="CA",
                          broker=we.BrokerOut(host="127.0.0.1", port=8883), grant_public_key_pem="K")
    assert we.EnrollOut.model_validate_json(answer.model_dump_json()) == answer
    with pytest.raises(ValueError):
        we.EnrollOut.model_validate({**answer.model_dump(), "device_id": "../../etc"})
    with pytest.raises(ValueError):
        we.EnrollOut.model_validate({**answer.model_dump(), "broker": {"host": "h", "port": 0}})
    checkpoint = wa.CheckpointOut(size=3, root="AAAA", note="origin\n3\nAAAA\n\n— origin sig\n")
    assert wa.CheckpointOut.model_validate_json(checkpoint.model_dump_json()) == checkpoint
    with pytest.raises(ValueError):
        wa.ProofOut.model_validate({"proof": "not a list"})


def test_an_owner_signed_policy_command_matches_its_golden_bytes_and_round_trips():
    from wire import owner as wo

    signed = wo.OwnerSigned(document='{"kind":"policy"}', assertion=wo.Assertion(
        credential_id="Y3JlZA", authenticator_data="A" * 50, client_data_json="eyJ0eXBlIjoid2ViYXV0aG4uZ2V0In0",
        signature="MEUCIQDx"))
    golden = ('{"v":1,"request_id":"' + str(REQUEST) + '","body":{"kind":"consent.policy","signed":{"document":'
              '"{\\"kind\\":\\"policy\\"}","assertion":{"credential_id":"Y3JlZA","authenticator_data":"' + "A" * 50
              + '","client_data_json":"eyJ0eXBlIjoid2ViYXV0aG4uZ2V0In0","signature":"MEUCIQDx"}}}}').encode()
    command = m.Command(request_id=REQUEST, body=m.PolicyUpdate(signed=signed))
    assert m.encode(command) == golden
    assert m.encode(m.decode(m.Command, golden)) == golden
