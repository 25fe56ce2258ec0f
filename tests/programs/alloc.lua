-- Allocation-heavy, deterministic Lua workload for hakmem's real-program
-- test: tests/run.sh runs it with and without LD_PRELOAD=libhakmem.so and
-- compares stdout byte for byte.  Lua's allocator is realloc/free, so this
-- exercises realloc at every size.  Output never depends on table iteration
-- order (Lua 5.4 randomizes string hashing): keys are sorted first.

local scale = tonumber(os.getenv("HK_TEST_SCALE") or "1") or 1
if scale <= 0 then scale = 1 end
local function n(x) return math.max(1, math.floor(x * scale)) end

-- deterministic LCG (no math.random: its seeding differs between versions)
local seed = 12345
local function rand(m)
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed % m
end

local function hash(s)
  local h = 5381
  for i = 1, #s, 7 do
    h = (h * 33 + s:byte(i)) % 4294967296
  end
  return h
end

local out = {}
local function emit(...)
  local t = table.pack(...)
  for i = 1, t.n do t[i] = tostring(t[i]) end
  local line = table.concat(t, " ")
  out[#out + 1] = line
  print(line)
end

-- 1. big tables with string keys, rebuilt several times
local words = {}
for i = 1, n(50000) do
  local len = 3 + rand(10)
  local b = {}
  for j = 1, len do b[j] = string.char(97 + rand(26)) end
  words[i] = table.concat(b)
end
for round = 1, 3 do
  local t = {}
  local count = 0
  for i, w in ipairs(words) do
    local k = w .. (i % 89)
    local v = t[k]
    if not v then v = {}; t[k] = v; count = count + 1 end
    v[#v + 1] = i * round
  end
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local total = 0
  for _, k in ipairs(keys) do total = total + #t[k] end
  emit("table", round, count, total, keys[1], keys[#keys], hash(table.concat(keys, ",", 1, 1000)))
end

-- 2. string building: concatenation, table.concat, gsub, rep, format
do
  local parts = {}
  for i = 1, n(150000) do
    parts[i] = string.format("%07d:%s:%x", i, words[(i % #words) + 1], (i * 2654435761) % 4294967296)
  end
  local s = table.concat(parts, "\n")
  local up = s:upper()
  local replaced, cnt = s:gsub("a", "<A>")
  emit("strings", #s, #up, #replaced, cnt, hash(s), hash(replaced))
  local acc = ""
  for i = 1, n(3000) do
    acc = acc .. words[(i % #words) + 1] .. ";"   -- quadratic on purpose: realloc growth
  end
  emit("concat", #acc, hash(acc))
  local r = string.rep("xyz", n(200000), "-")
  emit("rep", #r, hash(r))
  local fields = 0
  for _ in s:gmatch("[^\n]+") do fields = fields + 1 end
  emit("gmatch", fields)
end

-- 3. arrays: insert/remove, sort with comparator
do
  local a = {}
  for i = 1, n(200000) do a[i] = rand(1000000) end
  table.sort(a)
  emit("sort", a[1], a[#a], a[math.floor(#a / 2)])
  local recs = {}
  for i = 1, n(60000) do
    recs[i] = { id = i, key = words[(i * 7 % #words) + 1], w = rand(1000) }
  end
  table.sort(recs, function(x, y)
    if x.key ~= y.key then return x.key < y.key end
    return x.id < y.id
  end)
  emit("sortrec", recs[1].key, recs[1].id, recs[#recs].key, recs[#recs].id)
  local q = {}
  local sum = 0
  for i = 1, n(100000) do
    table.insert(q, { i, tostring(i) })
    if #q > 500 then
      local x = table.remove(q, 1 + rand(#q))
      sum = (sum + x[1] + #x[2]) % 1000003
    end
  end
  emit("queue", #q, sum)
end

-- 4. garbage: many short-lived tables and closures, explicit collections
do
  local kept = {}
  local live = 0
  for round = 1, 5 do
    for i = 1, n(100000) do
      local t = { i, i * 2, name = "n" .. i, f = function() return i end }
      if i % 100 == 0 then
        kept[#kept + 1] = t
      end
    end
    collectgarbage("collect")
    live = #kept
    if #kept > 3000 then
      for j = 1, 1500 do kept[j] = kept[#kept]; kept[#kept] = nil end
    end
  end
  local s = 0
  for _, t in ipairs(kept) do s = (s + t.f() + #t.name) % 1000003 end
  emit("gc", live, #kept, s)
  collectgarbage("generational")
  for i = 1, n(200000) do
    local _ = { i, tostring(i), { i } }
  end
  collectgarbage("incremental")
  collectgarbage("collect")
  emit("gcmodes", "ok")
end

-- 5. a tree of tables with parent links (cycles)
do
  local function build(depth, val, parent)
    local node = { val = val, parent = parent, kids = {} }
    if depth > 0 then
      for k = 1, 3 do node.kids[k] = build(depth - 1, val * 3 + k, node) end
    end
    return node
  end
  for round = 1, n(4) do
    local root = build(9, round, nil)
    local s, count = 0, 0
    local stack = { root }
    while #stack > 0 do
      local x = table.remove(stack)
      s = (s * 31 + x.val) % 1000000007
      count = count + 1
      for _, c in ipairs(x.kids) do stack[#stack + 1] = c end
    end
    emit("tree", round, count, s)
  end
  collectgarbage("collect")
end

local all = table.concat(out, "\n")
emit("done", #all, hash(all))
