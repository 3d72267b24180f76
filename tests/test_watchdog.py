"""The watchdog runs due callbacks once, in deadline order, and never a cancelled one."""

from __future__ import annotations

import threading
import time

from replaystore.watchdog import Watchdog


def test_due_callbacks_run_in_order_and_cancelled_ones_never() -> None:
    dog = Watchdog()
    fired: list[str] = []
    done = threading.Event()
    dog.schedule(0.10, lambda: (fired.append("late"), done.set()))
    dog.schedule(0.02, lambda: fired.append("early"))
    dog.cancel(dog.schedule(0.05, lambda: fired.append("cancelled")))
    assert done.wait(5)
    time.sleep(0.05)
    assert fired == ["early", "late"]


def test_a_failing_callback_does_not_stop_later_ones() -> None:
    dog = Watchdog()
    done = threading.Event()
    dog.schedule(0.01, lambda: 1 / 0)
    dog.schedule(0.03, done.set)
    assert done.wait(5)
