"""Command palette entries for a screen's own actions (each screen lists its own in ``PALETTE``)."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

#: (name shown in the palette, help text, action run on the screen)
PaletteEntry = tuple[str, str, str]


class ScreenActions(Provider):
    """Offers the entries of the screen's ``PALETTE`` class variable."""

    def _entries(self) -> tuple[PaletteEntry, ...]:
        entries: tuple[PaletteEntry, ...] = getattr(self.screen, "PALETTE", ())
        return entries

    async def discover(self) -> Hits:
        for name, help_text, action in self._entries():
            yield DiscoveryHit(name, partial(self.screen.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, action in self._entries():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), partial(self.screen.run_action, action), help=help_text)
