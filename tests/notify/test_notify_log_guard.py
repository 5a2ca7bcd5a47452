"""The notifier's log guard covers the library loggers that building the Apprise services
creates (urllib3.connectionpool logs request URLs, which carry a service's token)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import asyncio, io, logging
    from tapedesk.engine import notifier as n
    from tapedesk.engine.notify_config import NotifyConfig

    URL = "json://127.0.0.1:9/tok3nSECRETpath"
    n.load_urls = lambda names: {"phone": URL}

    class Sub:
        def __aiter__(self): return self
        async def __anext__(self): await asyncio.Event().wait()
        def drain(self): return []
        def close(self): pass

    class Eng:
        config = None
        def subscribe(self): return Sub()
        def explain(self, *a, **k): pass

    async def main():
        assert "urllib3.connectionpool" not in logging.root.manager.loggerDict, "preloaded"
        note = n.Notifier(Eng(), [], NotifyConfig(urls=["phone"]))
        await note.start()
        out = io.StringIO()
        logging.getLogger().addHandler(logging.StreamHandler(out))
        logging.getLogger("urllib3.connectionpool").warning("Failed to parse headers (url=%s)",
                                                            "http://127.0.0.1:9/tok3nSECRETpath")
        await note.close()
        print(out.getvalue())
        assert "tok3nSECRETpath" not in out.getvalue(), out.getvalue()

    asyncio.run(main())
""")


def test_loggers_created_by_building_services_are_scrubbed() -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Failed to parse headers" in proc.stdout
