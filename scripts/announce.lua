-- wrk script for scripts/versus.sh: BitTorrent announces over the workload's torrents.
--
--   wrk -s scripts/announce.lua URL -- HASHES_FILE [close]
--
-- HASHES_FILE holds one info hash in hex a line (`retracker-load hashes`). Each request names
-- a random torrent, a random one of a million peer ids and a random port, asks for 50
-- compact peers, and with `close` adds `Connection: close`, so every announce comes over a
-- new connection. `done` prints one line that scripts/versus.sh reads.

local hashes = {}
local close = false

function init(args)
  local file = assert(io.open(args[1] or "whitelist.txt"), "cannot open the hashes file")
  for line in file:lines() do
    hashes[#hashes + 1] = line:gsub("%x%x", "%%%0")
  end
  file:close()
  assert(#hashes > 0, "the hashes file is empty")
  close = args[2] == "close"
  math.randomseed(os.time())
end

function request()
  local path = string.format(
    "/announce?info_hash=%s&peer_id=-WR0001-%012d&port=%d&uploaded=0&downloaded=0&left=%d"
      .. "&compact=1&numwant=50",
    hashes[math.random(#hashes)], math.random(0, 999999), math.random(1024, 65535),
    math.random(0, 1) * 1000)
  if close then
    return wrk.format("GET", path, { ["Connection"] = "close" })
  end
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("wrk-result requests %d errors %d p50_us %d p99_us %d\n",
    summary.requests, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
