# Which lab tests may run at the same time (included by ctest after the
# discovered lab tests, through the TEST_INCLUDE_FILES of tests/).
#
# Every lab test is RUN_SERIAL unless its gtest suite is listed here: a new
# suite runs alone until someone has checked that it can share the machine.
# A suite may be listed when all of its tests
#  - use lab ids no other test uses (each Lab first removes a lab of the same
#    id), and
#  - are not timing- or load-critical: only retransmitting queries and
#    outcomes that do not depend on how fast the machine is, no timeout
#    measurements, keepalive or idle-timeout waits, success-rate statistics,
#    packet rates or labs of their own in parallel.
# They then count as one of ctest's processors (the unit and CLI tests count
# two), so `ctest -j4` on two cores runs up to four of them at once, or two
# next to one CPU-bound test.
#
# Stays serial on purpose (timing, statistics or load):
#   ConnectInLab.*           78 pairs on 6 labs at once; a birthday attack;
#                            KPN x KPN shares the id tckpnkpn with a pair row
#   MeasureTimeoutsInLab.*, MeasureTimeoutsBehindConntrack.*   timeout measurement to 1 s
#   MeasureMtuInLab.*        300 ms probe timeouts decide the MTU
#   MeasureMappingsInLab.*   2,000-4,000 packets/s, 12.5 ms pending timeout
#   NatdTimeoutsInLab.*      mapping expiry checked to 1 s
#   FaultsInLab.*            loss/duplication/reordering/jitter through natd
#   lab.selftest             conntrack timeouts; four labs at once itself
# and every suite not named below.
set(_natpunch_lab_parallel_suites
  # lab_nat_type_test.cpp: ids t<kind>, tboth, tfallback, tstun, terr
  NatTypeInLab CliErrorsInLab
  # lab_natd_test.cpp: ids tn<case>, tp<profile>, tshared, thairpin, ticmp, tbadkind, tstop, ttrace
  NatdTypeInLab CarrierPortsInLab NatdSharedInLab NatdHairpinInLab NatdIcmpInLab NatdLabErrors NatdLabTeardown
  NatdTraceInLab
  # lab_interop_test.cpp: ids tistund, ticoturn, tcstunclient, tcnatdisc, tcfilter
  OurClientAgainst ForeignClientAgainstOurServer ForeignClientAgainstOurServerDetail
  # lab_connect_test.cpp: ids tsn<row> (one lab at a time; punching bounded by time, not probe counts)
  SameNatInLab
  # lab_session_test.cpp: ids tyka, tykn, tyre, trnb. They mostly wait (3 s
  # NAT idle timeouts, keepalives every 1.5 s, a 10 s outage, a natd
  # restart); their margins (1.5 s between keepalive and expiry, counts of
  # lines rather than rates) hold beside a CPU hog on both cores, checked
  # by running all four at once with one.
  SessionKeepalive SessionRepunch
  # lab_security_test.cpp: ids txse, txpu. Counts of forged datagrams, sent
  # at 100-500/s; nothing depends on how fast the machine is.
  SpoofingAttacker)

foreach(_natpunch_test IN LISTS natpunch_lab_tests_TESTS)
  # lab.Suite.Test or, parameterized, lab.Prefix/Suite.Test/param
  if(_natpunch_test MATCHES "^lab\\.([A-Za-z0-9_]+/)?([A-Za-z0-9_]+)\\.")
    list(FIND _natpunch_lab_parallel_suites "${CMAKE_MATCH_2}" _natpunch_index)
    if(_natpunch_index GREATER -1)
      set_tests_properties("${_natpunch_test}" PROPERTIES RUN_SERIAL FALSE PROCESSORS 1)
    endif()
  endif()
endforeach()
