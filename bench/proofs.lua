-- wrk script: send the next pre-signed DPoP proof with every request (see bench/dpop.py).
-- Each thread reads its own file, "<prefix>.<thread number>", one proof per line.
local threads = 0

function setup(thread)
  thread:set("thread_number", threads)
  threads = threads + 1
end

local proofs = {}
local next_proof = 0

function init(args)
  for line in io.lines(args[1] .. "." .. thread_number) do
    proofs[#proofs + 1] = line
  end
end

function request()
  next_proof = next_proof % #proofs + 1
  -- wrk.format uses either the given headers or the -H ones, so copy those in.
  local headers = { ["DPoP"] = proofs[next_proof] }
  for name, value in pairs(wrk.headers) do
    headers[name] = value
  end
  return wrk.format(nil, nil, headers)
end
