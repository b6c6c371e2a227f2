-- main passes the heap cap (run with --memory 8M): the program ends with
-- status 1 and a MemoryExceeded that names main.
function main()
  local t = {}
  for i = 1, 1e9 do t[i] = {} end
end
