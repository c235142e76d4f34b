-- One announce to one torrent, in one round trip (src/adapters/redis/mod.rs says why).
--
-- KEYS: 1 seen  every listed peer, scored by when it last announced
--       2 leech the leechers among them (role 'l'), same scores
--       3 part  the partial seeds (role 'p', BEP 21), same scores
--       4 peer  member -> record
--       5 done  the count of completed downloads
-- A member is the family ('4' or '6') then the 20-byte peer id: a dual-stack client is
-- listed once in each family, as in memory. A record is the role (1 byte), whether its
-- download was counted ('0'/'1'), the hash of its key (8 hex digits, '--------' for none),
-- then its compact endpoint (4 or 16 bytes of address, 2 of port).
--
-- ARGV: now, cutoff, numwant, max_peers, ttl, expire_batch, member, role, key, endpoint,
--       event ('stopped', 'completed' or '')
-- Returns {0} when the announce names a listed peer it does not speak for; otherwise
-- {1, previous (-1 for none), listed (0/1), complete, incomplete, downloaded, downloaders,
--  member, endpoint, member, endpoint, ...}.

local seen, leech, part, peers, done = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local now = tonumber(ARGV[1])
local cutoff = tonumber(ARGV[2])
local numwant = tonumber(ARGV[3])
local max_peers = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local expire_batch = tonumber(ARGV[6])
local member, role, key, endpoint, event = ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local NO_KEY = '--------'

-- Expired peers go first, a bounded batch per call so no announce stalls the server; the
-- rest go with the next announces, and the whole torrent with its keys' TTL.
local old = redis.call('ZRANGEBYSCORE', seen, '-inf', cutoff, 'LIMIT', 0, expire_batch)
if #old > 0 then
  redis.call('ZREM', seen, unpack(old))
  redis.call('ZREM', leech, unpack(old))
  redis.call('ZREM', part, unpack(old))
  redis.call('HDEL', peers, unpack(old))
end

local function role_set(r)
  if r == 'l' then return leech end
  if r == 'p' then return part end
  return nil
end

local function stats()
  local total = redis.call('ZCARD', seen)
  local leechers = redis.call('ZCARD', leech)
  local partial = redis.call('ZCARD', part)
  local downloaded = tonumber(redis.call('GET', done) or '0')
  return {total - leechers - partial, leechers + partial, downloaded, leechers}
end

local function answer(previous, listed)
  local counts = stats()
  return {1, previous, listed, counts[1], counts[2], counts[3], counts[4]}
end

-- Who may speak for a listed peer (src/domain/identity.rs): an announce from its address,
-- which binds it to the key given now (or keeps the held one when none is given); or its key,
-- from anywhere.
local held = redis.call('HGET', peers, member)
local previous = -1
local bound = key
if held then
  previous = tonumber(redis.call('ZSCORE', seen, member))
  local held_key = string.sub(held, 3, 10)
  local held_ip = string.sub(held, 11, string.len(held) - 2)
  local ip = string.sub(endpoint, 1, string.len(endpoint) - 2)
  if held_ip == ip then
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
    redis.call('ZREM', seen, member)
    redis.call('ZREM', leech, member)
    redis.call('ZREM', part, member)
    redis.call('HDEL', peers, member)
  end
  return answer(previous, 0)
end

local listed = 1
local counted = '0'
if held then counted = string.sub(held, 2, 2) end
local newly_completed = event == 'completed' and counted == '0'
if not held and redis.call('ZCARD', seen) >= max_peers then
  -- A newcomer to a full swarm is answered but not listed, and counts no download.
  listed = 0
  newly_completed = false
end

if listed == 1 then
  if newly_completed then counted = '1' end
  if held then
    local was = role_set(string.sub(held, 1, 1))
    if was and was ~= role_set(role) then redis.call('ZREM', was, member) end
  end
  redis.call('HSET', peers, member, role .. counted .. bound .. endpoint)
  redis.call('ZADD', seen, now, member)
  local set = role_set(role)
  if set then redis.call('ZADD', set, now, member) end
  if newly_completed then redis.call('INCR', done) end
  -- A torrent nobody announces to any more goes by itself, with no sweep of the keyspace.
  for _, k in ipairs(KEYS) do redis.call('EXPIRE', k, ttl) end
end

local reply = answer(previous, listed)
local own_id = string.sub(member, 2)
local wanted = numwant

-- Adds the candidates to the reply, skipping the asker (in either family) and, when `only`
-- is given, any other role.
local function take(candidates, only)
  if #candidates == 0 or wanted == 0 then return end
  local records = redis.call('HMGET', peers, unpack(candidates))
  for n, candidate in ipairs(candidates) do
    local record = records[n]
    if wanted > 0 and record and string.sub(candidate, 2) ~= own_id
        and (only == nil or string.sub(record, 1, 1) == only) then
      reply[#reply + 1] = candidate
      reply[#reply + 1] = string.sub(record, 11)
      wanted = wanted - 1
    end
  end
end

-- Two more than wanted: the asker may be drawn, once in each family.
if numwant > 0 then
  if role == 'l' then
    take(redis.call('ZRANDMEMBER', seen, numwant + 2), nil)
  else
    -- An uploader gets leechers, then seeders, and no partial seeds.
    take(redis.call('ZRANDMEMBER', leech, numwant + 2), nil)
    if wanted > 0 then
      local others = redis.call('ZCARD', leech) + redis.call('ZCARD', part)
      local draw = math.min(wanted + others + 2, 4 * (numwant + 2))
      take(redis.call('ZRANDMEMBER', seen, draw), 's')
    end
  end
end
return reply
