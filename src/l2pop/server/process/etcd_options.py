"""The etcd connection options shared by ``l2pop server`` and ``l2pop store copy``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["EtcdCa", "EtcdCert", "EtcdKey", "EtcdPasswordFile", "EtcdUser"]

EtcdCa = Annotated[Path | None, typer.Option("--etcd-ca", help="etcd CA bundle.")]
EtcdCert = Annotated[Path | None, typer.Option("--etcd-cert", help="etcd client certificate.")]
EtcdKey = Annotated[Path | None, typer.Option("--etcd-key", help="etcd key.")]
EtcdUser = Annotated[str | None, typer.Option("--etcd-user", help="etcd user.")]
EtcdPasswordFile = Annotated[
    Path | None, typer.Option("--etcd-password-file", help="File with the etcd password.")
]
