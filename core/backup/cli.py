"""``gatehouse backup``: create, restore, list and prune archives.

The passphrase is never an argument value (it would sit in the shell history and in
``ps``): ``--passphrase`` asks for it on the terminal, or reads
``$GATEHOUSE_BACKUP_PASSPHRASE``; ``--passphrase-file`` reads the first line of a file.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .archive import BACKUP_DIR
from .errors import BackupError

ENV_PASSPHRASE = "GATEHOUSE_BACKUP_PASSPHRASE"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gatehouse backup",
                                     description="Back up or restore a config directory.")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    default_config = Path(os.environ.get("GATEHOUSE_CONFIG", "config"))

    def passphrase_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--passphrase", action="store_true",
                       help=f"encrypted: ask for the passphrase (or ${ENV_PASSPHRASE})")
        p.add_argument("--passphrase-file", type=Path, metavar="FILE",
                       help="encrypted: the passphrase is the first line of FILE")

    create = sub.add_parser("create", help="write one archive of the config dir "
                            "(safe while the host runs)")
    create.add_argument("-c", "--config", type=Path, default=default_config, metavar="DIR")
    create.add_argument("-o", "--output", type=Path, metavar="FILE",
                        help=f"archive path (default <config>/{BACKUP_DIR}/gatehouse-<time>"
                        ".tar.gz[.enc])")
    create.add_argument("--keep", type=int, metavar="N",
                        help=f"then delete all but the newest N archives in <config>/{BACKUP_DIR}")
    passphrase_args(create)

    restore = sub.add_parser("restore", help="unpack an archive into an empty directory")
    restore.add_argument("archive", type=Path)
    restore.add_argument("-c", "--config", type=Path, required=True, metavar="DIR",
                         help="target config dir (must be empty or absent)")
    passphrase_args(restore)

    listing = sub.add_parser("list", help=f"list the archives in <config>/{BACKUP_DIR}")
    listing.add_argument("-c", "--config", type=Path, default=default_config, metavar="DIR")
    return parser


def _passphrase(args: argparse.Namespace) -> str | None:
    if args.passphrase_file is not None:
        lines = args.passphrase_file.read_text(encoding="utf-8").splitlines()
        return lines[0] if lines else ""
    if not args.passphrase:
        return None
    if os.environ.get(ENV_PASSPHRASE):
        return os.environ[ENV_PASSPHRASE]
    import getpass

    first = getpass.getpass("Backup passphrase: ")
    if args.action == "create" and getpass.getpass("Again: ") != first:
        raise BackupError("the passphrases differ")
    return first


def cli_main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    from .archive import create_backup, restore_backup
    from .retention import list_backups, prune

    try:
        if args.action == "create":
            info = create_backup(args.config, args.output, passphrase=_passphrase(args))
            extra = ", encrypted" if info.encrypted else ""
            print(f"Wrote {info.path} ({info.size} bytes, {info.files} files, databases: "  # noqa: T201
                  f"{', '.join(info.databases) or 'none'}{extra})")
            if args.keep is not None:
                for path in prune(args.config, args.keep):
                    print(f"Deleted {path}")  # noqa: T201
        elif args.action == "restore":
            info = restore_backup(args.archive, args.config, passphrase=_passphrase(args))
            print(f"Restored {info.files} files into {info.path}")  # noqa: T201
        else:
            for path in list_backups(args.config):
                print(f"{path}  {path.stat().st_size}")  # noqa: T201
    except (BackupError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)  # noqa: T201
        return 1
    return 0
