# -*- coding: utf-8 -*-
"""Run Autobahn|Testsuite's wstest with every listener bound to 127.0.0.1.

Python 2.7 (run with the autobahn virtualenv's python).

Stock wstest binds 0.0.0.0 (autobahn's listenWS passes interface='') and, in
fuzzingserver mode, starts a web UI on port 8080. This wrapper:

* replaces reactor.listenTCP / reactor.listenSSL so that whatever interface
  the caller asks for, the socket is bound to 127.0.0.1;
* turns the web UI off (--webport=0) unless a web port is given on the
  command line (the spec file has no such key: wstest only reads -u/--webport);
* then hands the command line to wstest's own main.

    python wstest_local.py -m fuzzingserver -s spec.json [wstest options]
    python wstest_local.py -m fuzzingclient -s spec.json

Extra helper mode, used by .ci/autobahn.sh to know which cases a spec selects:

    python wstest_local.py --list-cases spec.json   # one case id a line
"""

from __future__ import print_function

import json
import sys

LOCAL = "127.0.0.1"


def list_cases(spec_path):
    # Same resolution of "cases" / "exclude-cases" patterns as wstest's
    # fuzzing modes (autobahntestsuite/fuzzing.py).
    from autobahntestsuite.case import Cases, CaseCategories, CaseSubCategories
    from autobahntestsuite.case import CaseSetname, CaseBasename
    from autobahntestsuite.caseset import CaseSet

    with open(spec_path) as f:
        spec = json.load(f)
    case_set = CaseSet(CaseSetname, CaseBasename, Cases, CaseCategories, CaseSubCategories)
    for case_id in case_set.parseSpecCases(spec):
        if case_id not in case_set.CasesById:
            sys.stderr.write("wstest_local: unknown case id %r in %s\n" % (case_id, spec_path))
            return 2
        print(case_id)
    return 0


def force_loopback(reactor):
    orig_tcp = reactor.listenTCP
    orig_ssl = reactor.listenSSL

    def listen_tcp(port, factory, backlog=50, interface=""):
        port_obj = orig_tcp(port, factory, backlog, LOCAL)
        print("wstest_local: TCP listener on %s:%d (asked for %r)"
              % (LOCAL, port_obj.getHost().port, interface))
        sys.stdout.flush()
        return port_obj

    def listen_ssl(port, factory, context_factory, backlog=50, interface=""):
        port_obj = orig_ssl(port, factory, context_factory, backlog, LOCAL)
        print("wstest_local: TLS listener on %s:%d (asked for %r)"
              % (LOCAL, port_obj.getHost().port, interface))
        sys.stdout.flush()
        return port_obj

    reactor.listenTCP = listen_tcp
    reactor.listenSSL = listen_ssl


def has_webport(args):
    for a in args:
        if a in ("-u", "--webport") or a.startswith("--webport=") or \
                (a.startswith("-u") and len(a) > 2):
            return True
    return False


def main(argv):
    if argv[:1] == ["--list-cases"]:
        if len(argv) != 2:
            sys.stderr.write("usage: wstest_local.py --list-cases SPEC.json\n")
            return 2
        return list_cases(argv[1])

    # wstest installs its preferred reactor (epoll) on import: import it
    # before anything touches twisted.internet.reactor.
    from autobahntestsuite import wstest
    from twisted.internet import reactor

    force_loopback(reactor)

    args = list(argv)
    if not has_webport(args):
        args.append("--webport=0")
    sys.argv = ["wstest"] + args
    wstest.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
