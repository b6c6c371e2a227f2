-- stage.files (run with --files DIR, files.sh makes DIR): read, write,
-- append, list and exists under DIR; whatever would leave it ('..', an
-- absolute path, a symbolic link) fails the call's future with a clear
-- error, and another actor of the theatre answers after each. With the
-- argument "none" (no --files) there is no stage.files.
local stage = require "stage"

local Bystander = stage.actor "Bystander"
function Bystander:birth() self.n = 0 end
function Bystander:ping() self.n = self.n + 1; return self.n end

-- f() must fail with an error of type want whose text has pattern.
local function fails(want, pattern, f)
  local ok, err = pcall(function() return f():await(10) end)
  assert(not ok, "did not fail: " .. pattern)
  assert(type(err) == "table" and err.type == want,
         "wanted " .. want .. ", got " .. tostring(err))
  assert(tostring(err):find(pattern, 1, true),
         "error '" .. tostring(err) .. "' lacks '" .. pattern .. "'")
end

function main(args)
  if args[1] == "none" then
    assert(stage.files == nil, "stage.files without --files")
    print("ok")
    return
  end
  local files, b = stage.files, Bystander()
  local pings = 0
  local function serving()
    pings = pings + 1
    assert(b:ping():await(5) == pings)
  end
  assert(files:write("notes.txt", "one\n"):await() == true)
  assert(files:append("notes.txt", "two\n"):await() == true)
  assert(files:read("notes.txt"):await() == "one\ntwo\n")
  assert(files:write("sub/data.bin", "\0\1\2"):await() == true)
  assert(files:read("sub/data.bin"):await() == "\0\1\2")
  local names = files:list():await()
  assert(table.concat(names, " ") == "link notes.txt out pipe sub",
         table.concat(names, " "))
  assert(files:list("sub"):await()[1] == "data.bin")
  assert(files:exists("notes.txt"):await() == true)
  assert(files:exists("missing"):await() == false)
  serving()
  fails("IOError", "files: cannot read 'missing': no such file or directory",
        function() return files:read("missing") end)
  serving()
  fails("IOError", "cannot write 'nodir/x': no such file or directory",
        function() return files:write("nodir/x", "x") end)
  serving()
  local refused = "refused: '.' and '..' are not allowed: the file actor " ..
                  "reaches only what is under its directory"
  fails("InvalidArgument", "path '../outside.txt' " .. refused,
        function() return files:read("../outside.txt") end)
  serving()
  fails("InvalidArgument", "path 'sub/../../outside.txt' " .. refused,
        function() return files:write("sub/../../outside.txt", "x") end)
  serving()
  fails("InvalidArgument", "give a path relative to the files directory",
        function() return files:append("/tmp/x", "x") end)
  serving()
  local link = "it is a symbolic link, and the file actor follows none"
  fails("IOError", "cannot read 'out': " .. link,
        function() return files:read("out") end)
  serving()
  fails("IOError", "cannot write 'out': " .. link,
        function() return files:write("out", "x") end)
  serving()
  fails("IOError", "cannot list 'link': " .. link,
        function() return files:list("link") end)
  serving()
  fails("IOError", "cannot read 'link/outside.txt': " .. link,
        function() return files:read("link/outside.txt") end)
  serving()
  local fifo = "it is not a regular file (a FIFO, a socket or a device)"
  fails("IOError", "cannot read 'pipe': " .. fifo,
        function() return files:read("pipe") end)
  serving()
  fails("IOError", "cannot append to 'pipe': " .. fifo,
        function() return files:append("pipe", "x") end)
  serving()
  fails("InvalidArgument", "files: write takes a path and a string",
        function() return files:write("x") end)
  serving()
  print("ok")
end
