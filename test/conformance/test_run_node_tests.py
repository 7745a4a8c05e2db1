#!/usr/bin/python3
"""Tests run_node_tests.py's own logic: comparison, failure reasons, the
expected-failures list, and a whole run against fake_kiln.py on a few real
node tests (so it needs no compiler)."""

import contextlib
import io
import os
import sys
import tempfile
import unittest
from unittest import mock

import numpy as np
import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run_node_tests as runner  # noqa: E402

FAKE_KILN = os.path.join(HERE, "fake_kiln.py")
TOL = runner.Tolerance(rtol=1e-3, atol=1e-5)


class CompareOutputTest(unittest.TestCase):
    def compare(self, actual, expected, elem_type=None):
        return runner.compare_output("y", np.asarray(actual), np.asarray(expected), TOL, elem_type)

    def test_floats_within_tolerance_match(self):
        expected = np.array([1.0, -2.0, 0.0], np.float32)
        self.assertIsNone(self.compare(expected * (1 + 5e-4) + np.float32(5e-6), expected))

    def test_floats_beyond_tolerance_report_max_abs_err(self):
        expected = np.array([1.0, 2.0, 3.0], np.float32)
        reason = self.compare(expected + np.array([0, 0.3, 0], np.float32), expected)
        self.assertRegex(reason, r"^mismatch: output y max abs err 0\.3")

    def test_nan_equals_nan_but_not_a_number(self):
        expected = np.array([np.nan, 1.0], np.float32)
        self.assertIsNone(self.compare(expected.copy(), expected))
        self.assertIn("max abs err inf", self.compare(np.array([0.0, 1.0], np.float32), expected))

    def test_infinities_must_agree_in_sign(self):
        expected = np.array([np.inf, 1.0], np.float32)
        self.assertIsNone(self.compare(expected.copy(), expected))
        self.assertIsNotNone(self.compare(np.array([-np.inf, 1.0], np.float32), expected))

    def test_dtype_must_match_exactly(self):
        reason = self.compare(np.zeros(3, np.float64), np.zeros(3, np.float32))
        self.assertEqual(reason, "mismatch: output y dtype float64 != expected float32")

    def test_shape_must_match(self):
        reason = self.compare(np.zeros((3, 2), np.float32), np.zeros((2, 3), np.float32))
        self.assertEqual(reason, "mismatch: output y shape [3,2] != expected [2,3]")

    def test_integers_and_booleans_are_exact(self):
        self.assertIsNone(self.compare(np.array([1, 2], np.int64), np.array([1, 2], np.int64)))
        self.assertIn("differs in 1 of 2", self.compare(np.array([1, 3], np.int64), np.array([1, 2], np.int64)))
        self.assertIsNotNone(self.compare(np.array([True, True]), np.array([True, False])))

    def test_bfloat16_may_come_back_as_bits(self):
        expected = np.array([1.0, -2.0], np.float32)  # as read_tensor_pb returns bfloat16
        bits = (expected.view(np.uint32) >> 16).astype(np.uint16)
        self.assertIsNone(self.compare(bits, expected, onnx.TensorProto.BFLOAT16))
        self.assertIsNotNone(self.compare(bits + np.uint16(1), expected * 3, onnx.TensorProto.BFLOAT16))

    def test_strings_compare_as_text(self):
        expected = np.array([b"monday", b"tuesday"], dtype=object)
        self.assertIsNone(self.compare(np.array(["monday", "tuesday"]), expected))
        self.assertIn("differs in 1 strings", self.compare(np.array(["monday", "friday"]), expected))


class FailureReasonTest(unittest.TestCase):
    def test_takes_the_first_error_line(self):
        stderr = "note: reading model\nkiln: error: unsupported op 'Foo' (opset 13)\nkiln: error: later\n"
        self.assertEqual(runner.failure_reason("compile", 1, stderr), "compile: unsupported op 'Foo' (opset 13)")

    def test_mlir_location_is_dropped_and_work_dir_hidden(self):
        stderr = 'loc("/tmp/w/test_x/model.onnx":"node_1"): error: cannot lower /tmp/w/test_x/a\n'
        self.assertEqual(runner.failure_reason("compile", 1, stderr, "/tmp/w"),
                         "compile: cannot lower <work>/test_x/a")

    def test_crash_names_the_signal(self):
        self.assertEqual(runner.failure_reason("run", -11, ""), "run: crashed (SIGSEGV)")

    def test_silent_failure_names_the_exit_code(self):
        self.assertEqual(runner.failure_reason("run", 3, "\n"), "run: exit code 3 with no message")

    def test_long_messages_are_cut(self):
        self.assertLessEqual(len(runner.failure_reason("run", 1, "kiln: error: " + "x" * 500)), 170)


class ExpectedFailuresTest(unittest.TestCase):
    def test_round_trip_keeps_header_and_sorts(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "list.txt")
            with open(path, "w") as f:
                f.write("# header\n\ntest_b  # run: b\ntest_a  # compile: a # with hash\n")
            header, entries = runner.read_expected_failures(path)
            self.assertEqual(header, "# header\n")
            self.assertEqual(entries, {"test_a": "compile: a # with hash", "test_b": "run: b"})
            self.assertEqual(runner.format_expected_failures(header, entries),
                             "# header\ntest_a  # compile: a # with hash\ntest_b  # run: b\n")

    def test_update_keeps_hand_written_reasons_only(self):
        entries = {"test_hand": "needs opset 18 Split semantics", "test_gen": "compile: old",
                   "test_fixed": "run: old", "test_not_run": "compile: x"}
        results = [runner.TestResult("test_hand", False, "compile: new"),
                   runner.TestResult("test_gen", False, "mismatch: output y max abs err 1"),
                   runner.TestResult("test_fixed", True),
                   runner.TestResult("test_new", False, "run: crashed (SIGSEGV)")]
        self.assertEqual(runner.updated_expected_failures(entries, results), {
            "test_hand": "needs opset 18 Split semantics",
            "test_gen": "mismatch: output y max abs err 1",
            "test_new": "run: crashed (SIGSEGV)",
            "test_not_run": "compile: x"})

    def test_check_finds_new_failures_and_unexpected_passes(self):
        results = [runner.TestResult("a", False, "run: x"), runner.TestResult("b", True),
                   runner.TestResult("c", False, "run: y"), runner.TestResult("d", True)]
        new, passing = runner.check_against_expected(results, {"c": "", "d": ""})
        self.assertEqual([r.name for r in new], ["a"])
        self.assertEqual([r.name for r in passing], ["d"])


class WholeRunWithFakeKilnTest(unittest.TestCase):
    """Drives main() over real node tests with fake_kiln.py standing in for kiln."""

    # test_sequence_map_identity_1_sequence_1_tensor has a symbolic input dim
    # (needs --shape); test_add has two inputs; test_cast_FLOAT_to_BFLOAT16 stores
    # bfloat16 as UINT16; test_cast_FLOAT_to_STRING has a string output.
    FILTER = r"^test_(abs|add|relu|cast_FLOAT_to_BFLOAT16|cast_FLOAT_to_STRING|sequence_map_identity_1_sequence_1_tensor)$"

    def main(self, *args, env=None):
        out = io.StringIO()
        with mock.patch.dict(os.environ, env or {}), contextlib.redirect_stdout(out):
            code = runner.main(["--kiln", FAKE_KILN, "--expected-failures", self.list_path,
                                "--filter", self.FILTER, "--jobs", "2", *args])
        return code, out.getvalue()

    def setUp(self):
        if not os.path.isdir(runner.DEFAULT_NODE_DIR):
            self.skipTest(f"{runner.DEFAULT_NODE_DIR} missing (install libonnx-testdata)")
        self.tmp = tempfile.TemporaryDirectory()
        self.list_path = os.path.join(self.tmp.name, "expected_failures.txt")

    def tearDown(self):
        self.tmp.cleanup()

    def test_check_update_check_cycle(self):
        # Fake kiln supports everything but Relu and gets test_add wrong.
        env = {"FAKE_KILN_UNSUPPORTED": "Relu", "FAKE_KILN_PERTURB": "^test_add$"}
        code, out = self.main(env=env)
        self.assertEqual(code, 1)
        self.assertIn("FAIL (not in expected failures) test_relu: compile: unsupported op 'Relu' (opset", out)
        self.assertIn("FAIL (not in expected failures) test_add: mismatch: output sum max abs err 1", out)
        # The sequence test's input is a SequenceProto: the fake fails to run it.
        self.assertIn("test_sequence_map_identity_1_sequence_1_tensor: run:", out)
        self.assertIn("node tests: 3 passed / 6 (50.0%), 0 expected failures", out)

        code, out = self.main("--update", env=env)
        self.assertEqual(code, 0)
        _, entries = runner.read_expected_failures(self.list_path)
        self.assertEqual(sorted(entries),
                         ["test_add", "test_relu", "test_sequence_map_identity_1_sequence_1_tensor"])

        code, out = self.main(env=env)
        self.assertEqual(code, 0, out)
        self.assertIn("node tests: 3 passed / 6 (50.0%), 3 expected failures", out)

        # Relu starts working: the list must be told.
        code, out = self.main(env={"FAKE_KILN_PERTURB": "^test_add$"})
        self.assertEqual(code, 1)
        self.assertIn("unexpectedly passing, remove from the list: test_relu", out)

    def test_report_and_timeout(self):
        report = os.path.join(self.tmp.name, "report.json")
        code, out = self.main("--timeout", "0.01", "--report", report, "--update")
        self.assertEqual(code, 0)
        _, entries = runner.read_expected_failures(self.list_path)
        self.assertTrue(all("timeout" in reason for reason in entries.values()), entries)
        import json
        with open(report) as f:
            data = json.load(f)
        self.assertEqual((data["total"], data["passed"]), (6, 0))


if __name__ == "__main__":
    unittest.main()
