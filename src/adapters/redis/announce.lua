-- One announce to one torrent, in one round trip (src/adapters/redis/mod.rs says why).
--
-- KEYS: 1 seed   the seeders         sorted sets, each member scored by when it last
--       2 part   the partial seeds   announced; a member is the family ('4' or '6'), the
--       3 leech  the leechers        20-byte peer id, then the compact endpoint (4 or 16
--                                    bytes of address, 2 of port)
--       4 peer   the family and id of each listed peer -> its record; field '#' holds the
--                count of completed downloads, field '@' when the torrent was last kept:
--                its expired peers removed and its keys' TTL set
-- A member carries its endpoint so that the peers of an answer are read by rank with
-- ZRANGE, with no second lookup: a window at a random rank, as the memory store picks. A
-- dual-stack client is listed once in each family, as in memory. A record is the role
-- ('s', 'p' or 'l'), whether its download was counted ('0'/'1'), the hash of its key (8 hex
-- digits, '--------' for none), then its endpoint.
--
-- ARGV: now, cutoff, numwant, max_peers, ttl, expire_batch, peer (family and id), role, key,
--       endpoint, event ('stopped', 'completed' or ''), start (where the window begins)
-- Returns {0} when the announce names a listed peer it does not speak for; otherwise
-- {1, previous (-1 for none), listed (0/1), complete, incomplete, downloaded, downloaders,
--  members}, the members picked for the answer back to back in one string.

local records = KEYS[4]
local sets = {s = KEYS[1], p = KEYS[2], l = KEYS[3]}
local now = tonumber(ARGV[1])
local cutoff = tonumber(ARGV[2])
local numwant = tonumber(ARGV[3])
local max_peers = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local expire_batch = tonumber(ARGV[6])
local peer, role, key, endpoint, event = ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local start = tonumber(ARGV[12])
local NO_KEY = '--------'

local function counts()
  return redis.call('ZCARD', sets.s), redis.call('ZCARD', sets.p), redis.call('ZCARD', sets.l)
end

-- The same client in the other family: never handed to itself in either.
local twin = (string.sub(peer, 1, 1) == '4' and '6' or '4') .. string.sub(peer, 2)
local read = redis.call('HMGET', records, peer, twin, '#', '@')

-- Keeping a torrent (removing its expired peers, setting its keys' TTL) is done once every
-- `slack` seconds, not at every announce, as the memory store sweeps: a peer goes between
-- one and one and a sixteenth peer ages after its last announce. Expired peers go a bounded
-- batch a set at a time, so no announce stalls the server; a torrent with more comes due
-- again the next second. A torrent with no keys has nothing to expire, and gets no key here.
local slack = math.max(1, math.floor(ttl / 16))
local kept = tonumber(read[4] or '0')
local due = read[4] == false or now - kept >= slack
local behind = false
if read[4] and due then
  for _, set in ipairs({sets.s, sets.p, sets.l}) do
    local old = redis.call('ZRANGEBYSCORE', set, '-inf', cutoff, 'LIMIT', 0, expire_batch)
    if #old > 0 then
      redis.call('ZREM', set, unpack(old))
      for n, member in ipairs(old) do
        old[n] = string.sub(member, 1, 21)
        -- The asker's own record may have gone with it: it is then a newcomer.
        if old[n] == peer then read[1] = false end
        if old[n] == twin then read[2] = false end
      end
      redis.call('HDEL', records, unpack(old))
      behind = behind or #old == expire_batch
    end
  end
end

local held, downloaded = read[1], tonumber(read[3] or '0')
local twin_member = read[2] and (twin .. string.sub(read[2], 11))
local previous = -1
local held_member, held_set
if held then
  held_set = sets[string.sub(held, 1, 1)]
  held_member = peer .. string.sub(held, 11)
  local score = redis.call('ZSCORE', held_set, held_member)
  if score then
    previous = tonumber(score)
  else
    -- Its set went with its TTL and took the member: the record is a leftover, not a peer.
    held = nil
  end
end

local seeders, partial, leechers
local function answer(listed)
  seeders, partial, leechers = counts()
  return {1, previous, listed, seeders, partial + leechers, downloaded, leechers}
end

-- Who may speak for a listed peer (src/domain/identity.rs): an announce from its address,
-- which binds it to the key given now (or keeps the held one when none is given); or its key,
-- from anywhere.
local bound = key
if held then
  local held_key = string.sub(held, 3, 10)
  local held_ip = string.sub(held, 11, -3)
  if held_ip == string.sub(endpoint, 1, -3) then
    if key == NO_KEY then bound = held_key end
  elseif held_key ~= NO_KEY and key == held_key then
    bound = held_key
  else
    return {0}
  end
end

if event == 'stopped' then
  -- Nothing is written for a peer that is not listed: a stopped for an unknown torrent
  -- creates no key.
  if held then
    redis.call('ZREM', held_set, held_member)
    redis.call('HDEL', records, peer)
  end
  local reply = answer(0)
  reply[#reply + 1] = ''
  return reply
end

local listed = 1
local counted = '0'
if held then counted = string.sub(held, 2, 2) end
local newly_completed = event == 'completed' and counted == '0'
if not held then
  local s, p, l = counts()
  if s + p + l >= max_peers then
    -- A newcomer to a full swarm is answered but not listed, and counts no download.
    listed = 0
    newly_completed = false
  end
end

local member = peer .. endpoint
if listed == 1 then
  if newly_completed then counted = '1' end
  local set = sets[role]
  if held and (held_set ~= set or held_member ~= member) then
    redis.call('ZREM', held_set, held_member)
  end
  -- A set that gains a member may be new: it gets its TTL now, not at the next keeping.
  if redis.call('ZADD', set, now, member) == 1 and not due then
    redis.call('EXPIRE', set, ttl + slack)
  end
  local record = role .. counted .. bound .. endpoint
  if record ~= held then redis.call('HSET', records, peer, record) end
  if newly_completed then downloaded = redis.call('HINCRBY', records, '#', 1) end
  -- A torrent nobody announces to any more goes by itself, with no sweep of the keyspace.
  -- Its keys go together, so no record outlives the member it describes, and they outlive
  -- every listed peer: set at most `slack` ago, they live a peer age and `slack` more.
  if due then
    for _, k in ipairs(KEYS) do redis.call('EXPIRE', k, ttl + slack) end
    redis.call('HSET', records, '@', behind and now - slack + 1 or now)
  end
end

local reply = answer(listed)
local picked = {}
local wanted = numwant

-- Appends to the reply up to `wanted` members of the window of `count` ranks from `from`
-- over `parts` (sets with their sizes, read as one list); the asker, in either family, is
-- skipped. Expired members are not: the expiry above removed them, but for a torrent that
-- had more than a batch expire at once.
local function take(parts, from, count)
  local offset = 0
  for _, part in ipairs(parts) do
    local set, size = part[1], part[2]
    local first = math.max(from - offset, 0)
    local last = math.min(from + count - offset, size) - 1
    if first <= last and wanted > 0 then
      for _, candidate in ipairs(redis.call('ZRANGE', set, first, last)) do
        if wanted > 0 and candidate ~= member and candidate ~= twin_member then
          picked[#picked + 1] = candidate
          wanted = wanted - 1
        end
      end
    end
    offset = offset + size
  end
end

-- A window of one more than wanted at a random rank (the asker may be in it), wrapping round.
local function window(parts)
  local total = 0
  for _, part in ipairs(parts) do total = total + part[2] end
  if total == 0 or wanted == 0 then return end
  -- A window over everything is everything: one read a set, not two round the wrap.
  if wanted + 1 >= total then return take(parts, 0, total) end
  local count = wanted + 1
  local from = start % total
  take(parts, from, math.min(count, total - from))
  if from + count > total then take(parts, 0, from + count - total) end
end

if numwant > 0 then
  if role == 'l' then
    window({{sets.s, seeders}, {sets.p, partial}, {sets.l, leechers}})
  else
    -- An uploader gets leechers, then seeders, and no partial seeds.
    window({{sets.l, leechers}})
    window({{sets.s, seeders}})
  end
end
-- One string of members back to back (each family's are of one length), not one reply
-- element a peer: cheaper for Redis to send and for the tracker to read.
reply[#reply + 1] = table.concat(picked)
return reply
