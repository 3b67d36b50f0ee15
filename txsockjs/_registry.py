"""
The HTTP sessions of one endpoint, by id.
"""

from __future__ import annotations

from typing import Dict, Iterator, List, Optional

from ._session import Session
from ._sessionparts import SessionState

__all__ = ["SessionRegistry"]


class SessionRegistry:
    """
    The sessions of one endpoint, by id; a session leaves when it expires.
    """

    def __init__(self) -> None:
        self._sessions: Dict[str, Session] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self) -> Iterator[Session]:
        # a copy: closing a session while iterating may remove it
        return iter(list(self._sessions.values()))

    def get(self, session_id: str) -> Optional[Session]:
        return self._sessions.get(session_id)

    def add(self, session: Session) -> None:
        self._sessions[session.session_id] = session

    def remove(self, session: Session) -> None:
        if self._sessions.get(session.session_id) is session:
            del self._sessions[session.session_id]

    def open_sessions(self) -> List[Session]:
        return [s for s in self._sessions.values() if s.state is SessionState.OPEN]
