"""Settings of the Discord bot: one frozen value with safe defaults.

Only the runner reads the environment (`Settings.from_env`); tests and embedders pass a
`Settings` directly, so importing the package never needs a token or any variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot import paths


class SettingsError(ValueError):
    """A setting has a value the bot cannot use (the message names the variable)."""


@dataclass(frozen=True)
class Settings:
    """How the bot behaves; every field has a default that is safe in a public server."""

    knowledge_path: Path = paths.DEFAULT_KNOWLEDGE
    cooldown_rate: int = 5
    cooldown_seconds: float = 30.0
    answer_channels: frozenset[int] = frozenset()
    query_log: Path | None = None
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None
    watch_seconds: float = 5.0
    view_timeout: float = 600.0
    owner_ids: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.cooldown_rate < 1 or self.cooldown_seconds < 0:
            raise SettingsError("cooldown rate must be >= 1 and seconds >= 0")
        if self.watch_seconds < 0 or self.view_timeout <= 0:
            raise SettingsError("watch seconds must be >= 0 and view timeout > 0")
        if self.shard_ids is not None:
            if self.shard_count is None:
                raise SettingsError("SHARD_IDS needs SHARD_COUNT")
            if not self.shard_ids or any(not 0 <= i < self.shard_count for i in self.shard_ids):
                raise SettingsError(f"SHARD_IDS must be between 0 and {self.shard_count - 1}")
        if self.shard_count is not None and self.shard_count < 1:
            raise SettingsError("SHARD_COUNT must be >= 1")

    @property
    def message_content(self) -> bool:
        """The privileged intent is requested only when channels are answered without mentions."""
        return bool(self.answer_channels)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Settings from environment variables (unset or empty ones keep their default)."""
        values: dict[str, object] = {}

        def get(name: str) -> str | None:
            value = environ.get(name, "").strip()
            return value or None

        def number(name: str, kind: type) -> object:
            try:
                return kind(get(name))
            except ValueError:
                raise SettingsError(f"{name} must be a number, not {get(name)!r}") from None

        def ids(name: str) -> tuple[int, ...]:
            try:
                return tuple(int(part) for part in get(name).replace(" ", "").split(",") if part)
            except ValueError:
                raise SettingsError(f"{name} must be comma-separated numbers") from None

        for name, key, kind in (("FAQBOT_COOLDOWN_RATE", "cooldown_rate", int),
                                ("FAQBOT_COOLDOWN_SECONDS", "cooldown_seconds", float),
                                ("FAQBOT_WATCH_SECONDS", "watch_seconds", float),
                                ("FAQBOT_VIEW_TIMEOUT", "view_timeout", float),
                                ("SHARD_COUNT", "shard_count", int)):
            if get(name):
                values[key] = number(name, kind)
        if get("FAQBOT_KNOWLEDGE"):
            values["knowledge_path"] = Path(get("FAQBOT_KNOWLEDGE"))
        if get("FAQBOT_QUERY_LOG"):
            values["query_log"] = Path(get("FAQBOT_QUERY_LOG"))
        if get("FAQBOT_ANSWER_CHANNELS"):
            values["answer_channels"] = frozenset(ids("FAQBOT_ANSWER_CHANNELS"))
        if get("FAQBOT_OWNER_IDS"):
            values["owner_ids"] = frozenset(ids("FAQBOT_OWNER_IDS"))
        if get("SHARD_IDS"):
            values["shard_ids"] = ids("SHARD_IDS")
        return cls(**values)  # type: ignore[arg-type]
