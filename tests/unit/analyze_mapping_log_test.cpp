// Mapping logs as the thesis apps and natpunch write them, including the
// junk real collections contain: bad rows are counted by reason, never fatal.
#include "analyze/mapping_log.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "analyze/mapping_join.hpp"

namespace natpunch::analyze {
namespace {

std::size_t count(const ParsedLog& log, MalformedReason reason) { return log.malformed[static_cast<std::size_t>(reason)]; }

TEST(MappingLog, ThesisPhoneLogWithJunk) {
  std::string text =
      "Message id, Time, Sender Port, Receiver Port, Success\n"
      "a1, 1000, 40000, 2000, True\n"
      "a2, 2023-05-04 12:00:01.250, 40001, 2001, False\n"
      "\n"
      "a3, 1002, 40002\n"                   // too few fields
      "a4, yesterday, 40003, 2003, True\n"  // time
      "a5, 1004, 70000, 2004, True\n"       // port out of range
      "a6, 1005, 0, 2005, True\n"           // port 0
      "a7, 1006, 40006, 2006, maybe\n"      // success
      ", 1007, 40007, 2007, True\n"         // empty id
      "a 9, 1008, 40008, 2008, True\n";     // space inside the id
  text += std::string("\x01\xff\xfe garbage\x00, 1, 2, 3\n", 22);
  text += "a10, 1009, 40009, 2009, 1\r\n";
  const auto log = parse_mapping_log(text, LogSide::Client);
  EXPECT_EQ(log.dialect, LogDialect::Thesis);
  EXPECT_EQ(log.header_lines, 1U);
  ASSERT_EQ(log.records.size(), 3U);
  EXPECT_EQ(log.id_of(log.records[0]), "a1");
  EXPECT_EQ(log.records[0].sender_port, 40000);
  EXPECT_EQ(log.records[0].receiver_port, 2000);
  EXPECT_FALSE(log.records[1].success);
  EXPECT_GT(log.records[1].time_ms, 1.6e12);  // a date, as ms since 1970
  EXPECT_EQ(log.id_of(log.records[2]), "a10");
  EXPECT_EQ(count(log, MalformedReason::FieldCount), 1U);
  EXPECT_EQ(count(log, MalformedReason::BadTime), 1U);
  EXPECT_EQ(count(log, MalformedReason::BadPort), 2U);
  EXPECT_EQ(count(log, MalformedReason::BadSuccess), 1U);
  EXPECT_EQ(count(log, MalformedReason::BadId), 2U);
  EXPECT_EQ(count(log, MalformedReason::NotText), 1U);
  EXPECT_EQ(log.malformed_total(), 8U);
}

TEST(MappingLog, DialectsAndSides) {
  struct Row {
    const char* text;
    LogSide side;
    LogDialect dialect;
    std::size_t records;
    std::size_t malformed;
  };
  const Row rows[] = {
      {"uuid,time_ms,local_port,server_port\nu1,5,1025,2000\n", LogSide::Client, LogDialect::Natpunch, 1, 0},
      {"uuid,time_ms,observed_port,server_port\nu1,5,1025,2000\n", LogSide::Server, LogDialect::Natpunch, 1, 0},
      {"Message id, Time, Sender Port, Receiver Port\nm, 12:00:00, 1025, 2000\n", LogSide::Server, LogDialect::Thesis,
       1, 0},
      {"m, 1, 1025, 2000\n", LogSide::Server, LogDialect::Unknown, 1, 0},       // header is optional
      {"m, 1, 1025, 2000, True\n", LogSide::Server, LogDialect::Unknown, 0, 1},  // servers have no Success
      {"", LogSide::Client, LogDialect::Unknown, 0, 0},
      {"\n\n\r\n", LogSide::Client, LogDialect::Unknown, 0, 0},
      {"a,b,c,d,e,f,g,h\n", LogSide::Client, LogDialect::Unknown, 0, 1},
  };
  for (const auto& row : rows) {
    const auto log = parse_mapping_log(row.text, row.side);
    EXPECT_EQ(log.dialect, row.dialect) << row.text;
    EXPECT_EQ(log.records.size(), row.records) << row.text;
    EXPECT_EQ(log.malformed_total(), row.malformed) << row.text;
  }
}

// The real collections (../shared/data/carrier-logs): Success is S/F,
// some files end every line with two empty columns, and the server logged
// other traffic: DHCP datagrams as text, "Failed, to, launch" lines and
// ids that are no message ids.
TEST(MappingLog, RealCarrierLogQuirks) {
  const auto phone = parse_mapping_log(
      "Message id, Time, Sender Port, Receiver Port, Success\n"
      "68ef57ad-bb9c-420a-a2d3-2b82e9b56dfc, 1706028552013, 10539, 5025, S\n"
      "a0a94b2e-128f-4cbe-b6fc-7586488146a1, 1706028552219, 33839, 13518, F\n",
      LogSide::Client);
  ASSERT_EQ(phone.records.size(), 2U);
  EXPECT_TRUE(phone.records[0].success);
  EXPECT_FALSE(phone.records[1].success);
  EXPECT_EQ(phone.malformed_total(), 0U);

  std::string server_text =
      "Message id, Time, Sender Port, Receiver Port,,\n"
      "Failed, to, launch,53,,\n"
      "68ef57ad-bb9c-420a-a2d3-2b82e9b56dfc,1706028552408,1792,5025,,\n"
      "\\status\\,1706278420484,33745,7784\n";
  server_text += std::string("\x01\x01\x06YV\xef\xbf\xbd,1706028514108,68,67,,\n");
  const auto server = parse_mapping_log(server_text, LogSide::Server);
  EXPECT_EQ(server.header_lines, 1U);
  ASSERT_EQ(server.records.size(), 1U);
  EXPECT_EQ(server.records[0].sender_port, 1792);
  EXPECT_EQ(count(server, MalformedReason::BadTime), 1U);   // Failed, to, launch
  EXPECT_EQ(count(server, MalformedReason::BadId), 1U);     // \status\ is no message id
  EXPECT_EQ(count(server, MalformedReason::NotText), 1U);   // the DHCP datagram
  EXPECT_EQ(server.malformed_total(), 3U);
}

// Issue 22 item 9: a spreadsheet's UTF-8 byte order mark before the header
// is not binary garbage, and the header after it is still a header.
TEST(MappingLog, ByteOrderMarkBeforeTheHeader) {
  const auto log = parse_mapping_log(
      "\xef\xbb\xbfMessage id, Time, Sender Port, Receiver Port, Success\n"
      "a1, 1000, 40000, 2000, S\n",
      LogSide::Client);
  EXPECT_EQ(log.malformed_total(), 0U);
  EXPECT_EQ(log.header_lines, 1U);
  EXPECT_EQ(log.dialect, LogDialect::Thesis);
  EXPECT_EQ(log.records.size(), 1U);
  // Without a header the first row keeps its id whole.
  const auto bare = parse_mapping_log("\xef\xbb\xbf" "a1, 1000, 40000, 2000\n", LogSide::Server);
  ASSERT_EQ(bare.records.size(), 1U);
  EXPECT_EQ(bare.id_of(bare.records[0]), "a1");
}

TEST(MappingLog, ApparentSideFromHeaderOrSuccessColumn) {
  struct Row {
    const char* text;
    std::optional<LogSide> side;
  };
  const Row rows[] = {
      {"uuid,time_ms,local_port,server_port\nu1,5,1025,2000\n", LogSide::Client},
      {"uuid,time_ms,observed_port,server_port\nu1,5,1025,2000\n", LogSide::Server},
      {"Message id, Time, Sender Port, Receiver Port, Success\nm, 1, 1025, 2000, S\n", LogSide::Client},
      {"Message id, Time, Sender Port, Receiver Port,,\nm, 1, 1025, 2000\n", LogSide::Server},
      {"m, 1, 1025, 2000, S\nn, 2, 1026, 2000, F\n", LogSide::Client},  // no header, Success column
      {"m, 1, 1025, 2000\nn, 2, 1026, 2000\n", std::nullopt},         // nothing tells
  };
  for (const auto& row : rows) EXPECT_EQ(apparent_side(parse_mapping_log(row.text)), row.side) << row.text;
  // Read as a server log, Success rows are malformed, but still counted.
  const auto as_server = parse_mapping_log("m, 1, 1025, 2000, S\n", LogSide::Server);
  EXPECT_EQ(as_server.records.size(), 0U);
  EXPECT_EQ(as_server.success_rows, 1U);
}

TEST(MappingJoin, InnerJoinOnIdOrderedByPhoneTime) {
  const auto client = parse_mapping_log(
      "uuid,time_ms,local_port,server_port\n"
      "b,20,40001,2001\n"
      "a,10,40000,2000\n"
      "a,11,40000,2000\n"  // duplicate id
      "lost,30,40002,2002\n",
      LogSide::Client);
  const auto server = parse_mapping_log(
      "uuid,time_ms,observed_port,server_port\n"
      "a,99999,5000,2000\n"
      "b,99990,5001,2001\n"  // server clock says b came first: ignored
      "b,99991,5001,2001\n"
      "stranger,1,6000,2000\n",
      LogSide::Server);
  const auto joined = join_mappings(client, server);
  ASSERT_EQ(joined.rows.size(), 2U);
  EXPECT_EQ(joined.rows[0].local_port, 40000);
  EXPECT_EQ(joined.rows[0].mapped_port, 5000);
  EXPECT_EQ(joined.rows[1].mapped_port, 5001);
  EXPECT_EQ(joined.duplicate_client_ids, 1U);
  EXPECT_EQ(joined.duplicate_server_ids, 1U);
  EXPECT_EQ(joined.client_only, 1U);
  EXPECT_EQ(joined.server_only, 1U);
}

}  // namespace
}  // namespace natpunch::analyze
