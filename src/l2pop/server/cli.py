"""``l2pop server``: the control-plane server (SQLite by default)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from l2pop.logs import LogFormat
from l2pop.server.process.etcd_options import EtcdCa, EtcdCert, EtcdKey, EtcdPasswordFile, EtcdUser

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("server")
    def server(
        db: Annotated[
            Path | None, typer.Option("--db", help="SQLite database file [./l2pop.db].")
        ] = None,
        etcd: Annotated[
            str | None,
            typer.Option(
                "--etcd", help="etcd endpoints host:port or http(s)://host:port, comma-separated."
            ),
        ] = None,
        etcd_ca: EtcdCa = None,
        etcd_cert: EtcdCert = None,
        etcd_key: EtcdKey = None,
        etcd_user: EtcdUser = None,
        etcd_password_file: EtcdPasswordFile = None,
        etcd_prefix: Annotated[
            str, typer.Option("--etcd-prefix", help="Key prefix in etcd.")
        ] = "/l2pop/",
        listen: Annotated[
            str, typer.Option("--listen", help="HOST:PORT to serve on.")
        ] = "127.0.0.1:9696",
        admin_token_file: Annotated[
            Path | None,
            typer.Option(
                "--admin-token-file",
                help="File with the admin token; generated (0600) next to the db when absent.",
            ),
        ] = None,
        vni_range: Annotated[
            str, typer.Option("--vni-range", help="LOW:HIGH for networks created without a VNI.")
        ] = "1000:1999",
        max_body: Annotated[
            int, typer.Option("--max-body", min=1, help="Largest request body in bytes (413).")
        ] = 1024 * 1024,
        retain: Annotated[
            int, typer.Option("--retain", min=10_000, help="Revisions kept for watch resume.")
        ] = 10_000,
        log_level: Annotated[str, typer.Option("--log-level", help="debug|info|warning")] = "info",
        log_format: Annotated[
            LogFormat,
            typer.Option("--log-format", help="human lines, or json: one object per line."),
        ] = LogFormat.HUMAN,
        access_log: Annotated[bool, typer.Option("--access-log", help="Log requests.")] = False,
        watch_max_queued: Annotated[
            int,
            typer.Option(
                "--watch-max-queued",
                min=64 * 1024,
                help="Bytes a watch stream may have queued for a client that does not read; "
                "past it the stream is cut (l2pop_watch_dropped_total) and the agent resumes.",
            ),
        ] = 4 * 1024 * 1024,
        stream_writer: Annotated[
            bool | None,
            typer.Option(
                "--stream-writer/--no-stream-writer",
                hidden=True,
                help="Deprecated, ignored: the server's own event loop writes every stream.",
            ),
        ] = None,
        public_url: Annotated[
            str | None,
            typer.Option(
                "--public-url",
                help="Base URL of every links href, e.g. https://l2pop.example:9696 "
                "[the address the request arrived at; never the Host header].",
            ),
        ] = None,
        max_header_bytes: Annotated[
            int,
            typer.Option("--max-header-bytes", min=1024, help="Largest request head (431)."),
        ] = 64 * 1024,
        header_timeout: Annotated[
            float,
            typer.Option(
                "--header-timeout",
                min=0.1,
                help="Seconds for a request's headers to arrive, from connect or the last answer.",
            ),
        ] = 10.0,
        body_timeout: Annotated[
            float,
            typer.Option("--body-timeout", min=0.1, help="Seconds for a body after its headers."),
        ] = 10.0,
        keep_alive_timeout: Annotated[
            int, typer.Option("--keep-alive-timeout", min=1, help="Idle keep-alive seconds.")
        ] = 5,
        max_connections: Annotated[
            int | None,
            typer.Option(
                "--max-connections",
                min=1,
                help="Open connections at most; at the cap the longest idle one is closed "
                "(default: the descriptor limit minus 64).",
            ),
        ] = None,
        status_rate: Annotated[
            float,
            typer.Option(
                "--status-rate", min=0, help="Status reports per second per host token (0: off)."
            ),
        ] = 100.0,
        status_burst: Annotated[
            int, typer.Option("--status-burst", min=1, help="Status reports a host may burst.")
        ] = 2000,
        tls_cert: Annotated[
            Path | None,
            typer.Option(
                "--tls-cert",
                dir_okay=False,
                help="Server certificate (PEM, chain after it): serve HTTPS only. "
                "Re-read on SIGHUP and when the file changes.",
            ),
        ] = None,
        tls_key: Annotated[
            Path | None, typer.Option("--tls-key", dir_okay=False, help="Key of --tls-cert (PEM).")
        ] = None,
        client_ca: Annotated[
            Path | None,
            typer.Option(
                "--client-ca",
                dir_okay=False,
                help="CA of the hosts' client certificates: a host token is then accepted "
                "only with a certificate naming that host (CN or DNS SAN).",
            ),
        ] = None,
    ) -> None:
        """Run the l2pop server: Neutron v2.0 subset + host list/watch API."""
        from l2pop.errors import L2popError
        from l2pop.server.process.logs import setup_logging
        from l2pop.server.process.runner import (
            ServerOptions,
            parse_public_url,
            parse_vni_range,
            serve,
        )
        from l2pop.server.process.uvicorn_adapter import ConnectionLimits

        if db is not None and etcd is not None:
            raise typer.BadParameter("--db and --etcd exclude each other: choose one store")
        setup_logging(log_level, log_format)
        if stream_writer is not None:
            logging.getLogger("l2pop.server").warning(
                "--stream-writer/--no-stream-writer is ignored: there is no stream writer "
                "process any more, the server writes every watch stream itself"
            )
        if (tls_cert is None) != (tls_key is None):
            raise typer.BadParameter("--tls-cert and --tls-key go together")
        if client_ca is not None and tls_cert is None:
            raise typer.BadParameter("--client-ca needs --tls-cert and --tls-key")
        tls = None
        if tls_cert is not None and tls_key is not None:
            from l2pop.server.process.tls import TlsFiles

            tls = TlsFiles(tls_cert, tls_key, client_ca)
        try:
            options = ServerOptions(
                db=db or Path("l2pop.db"),
                listen=listen,
                admin_token_file=admin_token_file,
                vni_range=parse_vni_range(vni_range),
                max_body=max_body,
                retain=retain,
                access_log=access_log,
                watch_max_queued=watch_max_queued,
                tls=tls,
                public_url=parse_public_url(public_url),
                limits=ConnectionLimits(
                    max_header_bytes, header_timeout, body_timeout, max_connections
                ),
                keep_alive_timeout=keep_alive_timeout,
                status_rate=status_rate,
                status_burst=status_burst,
            )
            store = None
            if etcd is not None:
                from l2pop.server.store import open_etcd_store

                store = open_etcd_store(
                    etcd,
                    ca=etcd_ca,
                    cert=etcd_cert,
                    key=etcd_key,
                    user=etcd_user,
                    password_file=etcd_password_file,
                    prefix=etcd_prefix,
                    retain=retain,
                )
            serve(options, store)
        except L2popError as exc:
            typer.echo(f"l2pop server: {exc}", err=True)
            raise typer.Exit(2) from None
