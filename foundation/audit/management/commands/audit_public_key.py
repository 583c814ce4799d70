from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from foundation.audit.checkpoints import verifier_key
from verifier.note import NoteError, SignerKey


class Command(BaseCommand):
    help = (
        "Print the audit log's verifier key (C2SP note format <name>+<key id>+<key>): what a "
        "regulator passes to clearance-verify --key. With --generate NAME --out FILE, write a "
        "new signing key for AUDIT_SIGNING_KEY instead (to rotate keys)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--generate", metavar="NAME", help="The new key's name (the origin).")
        parser.add_argument("--out", type=Path, help="Where to write the new signing key.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["generate"]:
            out: Path | None = options["out"]
            if out is None:
                raise CommandError("--generate needs --out FILE for the private key.")
            if out.exists():
                raise CommandError(f"{out} exists; choose a new file for the new key.")
            try:
                key = SignerKey.generate(options["generate"])
            except NoteError as exc:
                raise CommandError(str(exc)) from exc
            out.parent.mkdir(parents=True, exist_ok=True)
            out.touch(mode=0o600)
            out.write_text(f"{key}\n")
            self.stdout.write(f"{key.verifier}\n", ending="")
            return
        self.stdout.write(f"{verifier_key()}\n", ending="")
