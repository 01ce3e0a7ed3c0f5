"""The hot list: plates to watch for, pushed whole (with a version) to every appliance."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hub.tables import Counter, HotListItem, utcnow
from wire import messages as m

VERSION_COUNTER = "hotlist_version"


def version(session: Session) -> int:
    row = session.get(Counter, VERSION_COUNTER)
    return row.value if row else 0


def bump_version(session: Session) -> int:
    row = session.get(Counter, VERSION_COUNTER, with_for_update=True)
    if row is None:
        row = Counter(name=VERSION_COUNTER, value=0)
        session.add(row)
    row.value += 1
    return row.value


def current(session: Session) -> m.HotListReplace:
    now = utcnow()
    items = session.scalars(select(HotListItem)
                            .where(or_(HotListItem.expires_at.is_(None), HotListItem.expires_at > now))
                            .order_by(HotListItem.id))
    return m.HotListReplace(version=version(session), entries=[
        m.HotListEntry(plate=i.plate, list_name=i.list_name, reason=i.reason, expires_at=i.expires_at)
        for i in items])
