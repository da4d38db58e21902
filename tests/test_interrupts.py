import os
import signal
import threading

import pytest

from etcdlite.interrupts import sigint_deferred


def test_a_ctrl_c_inside_the_block_arrives_as_keyboard_interrupt_when_it_ends():
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    reached_end_of_block = False
    with pytest.raises(KeyboardInterrupt):
        with sigint_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):  # the eval loop would have run a handler by now
                pass
            reached_end_of_block = True
    assert reached_end_of_block
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_the_block_restores_the_handler_without_a_signal():
    before = signal.getsignal(signal.SIGINT)
    with sigint_deferred():
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before


def test_outside_the_main_thread_the_block_changes_nothing():
    seen = []

    def body():
        with sigint_deferred():
            seen.append(signal.getsignal(signal.SIGINT))

    worker = threading.Thread(target=body)
    worker.start()
    worker.join(10)
    assert seen == [signal.getsignal(signal.SIGINT)]
