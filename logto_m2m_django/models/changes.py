"""Version counters of control-plane changes; see :mod:`logto_m2m_django.changes`."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ChangeCounter(models.Model):
    """One row per channel (e.g. "keys"): ``version`` grows by one with every committed change."""

    channel = models.CharField(_("channel"), max_length=64, primary_key=True)
    version = models.BigIntegerField(_("version"), default=0)

    class Meta:
        verbose_name = _("change counter")
        verbose_name_plural = _("change counters")

    def __str__(self) -> str:
        return f"{self.channel}: {self.version}"
