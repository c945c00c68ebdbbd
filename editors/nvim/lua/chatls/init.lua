--- chatls for Neovim 0.11+: run Explain / Refactor / Fix on a range through
--- `workspace/executeCommand`, cancel them, show their progress, and open explanations
--- in a split. The user commands are defined in plugin/chatls.lua.

local M = {}

--- Last progress message per client id (for a statusline: `require('chatls').status()`).
---@type table<integer, string>
local last_progress = {}

---@param msg string
---@param level? integer
local function notify(msg, level)
  vim.notify('chatls: ' .. msg, level or vim.log.levels.INFO)
end

--- The chatls client attached to `bufnr`, or nil with an error shown.
---@param bufnr integer
---@return vim.lsp.Client?
local function client_for(bufnr)
  local client = vim.lsp.get_clients({ bufnr = bufnr, name = 'chatls' })[1]
  if not client then
    notify('not attached to this buffer (is `vim.lsp.enable("chatls")` in your config?)', vim.log.levels.ERROR)
  end
  return client
end

--- Byte column `col` (0-based) of buffer line `row` (0-based) in the client's encoding.
---@param bufnr integer
---@param row integer
---@param col integer
---@param encoding string
---@return integer
local function encode_col(bufnr, row, col, encoding)
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
  col = math.max(0, math.min(col, #line))
  if col == 0 or encoding == 'utf-8' then
    return col
  end
  return vim.str_utfindex(line, encoding, col, false)
end

--- The LSP range of a command invocation. With a charwise visual selection (`v`) it is
--- exactly the selection; otherwise whole lines `line1`..`line2`, from column 0 of the first
--- to the end of the last (not column 0 of the next line).
---@param bufnr integer
---@param opts { line1: integer, line2: integer, range: integer }
---@param encoding string
---@return lsp.Range
function M.command_range(bufnr, opts, encoding)
  local first, last = opts.line1 - 1, opts.line2 - 1
  local line_count = vim.api.nvim_buf_line_count(bufnr)
  first = math.max(0, math.min(first, line_count - 1))
  last = math.max(first, math.min(last, line_count - 1))
  if opts.range > 0 and vim.fn.visualmode() == 'v' then
    local vstart = vim.api.nvim_buf_get_mark(bufnr, '<')
    local vend = vim.api.nvim_buf_get_mark(bufnr, '>')
    if vstart[1] - 1 == first and vend[1] - 1 == last then
      local end_line = vim.api.nvim_buf_get_lines(bufnr, last, last + 1, false)[1] or ''
      -- '> marks the first byte of the last selected character: include the whole character.
      local end_byte = math.min(vend[2], #end_line)
      if end_byte < #end_line then
        local char_len = #vim.fn.strcharpart(end_line:sub(end_byte + 1), 0, 1)
        end_byte = end_byte + math.max(char_len, 1)
      end
      return {
        start = { line = first, character = encode_col(bufnr, first, vstart[2], encoding) },
        ['end'] = { line = last, character = encode_col(bufnr, last, end_byte, encoding) },
      }
    end
  end
  local end_line = vim.api.nvim_buf_get_lines(bufnr, last, last + 1, false)[1] or ''
  return {
    start = { line = first, character = 0 },
    ['end'] = { line = last, character = encode_col(bufnr, last, #end_line, encoding) },
  }
end

--- Run an action of the table on the range of a user command: `chatls.run {uri, range,
--- action, instruction?}`; the instruction is the command's arguments (ignored by answer rows).
---@param id string a row id: 'explain', 'refactor', 'fix' or one of your `actions`
---@param opts { line1: integer, line2: integer, range: integer, args?: string }
function M.run_action(id, opts)
  id = vim.trim(id or '')
  if id == '' then
    notify('usage: :[range]ChatlsRun {id} [instruction]', vim.log.levels.ERROR)
    return
  end
  local bufnr = vim.api.nvim_get_current_buf()
  local client = client_for(bufnr)
  if not client then
    return
  end
  local args = {
    uri = vim.uri_from_bufnr(bufnr),
    range = M.command_range(bufnr, opts, client.offset_encoding),
    action = id,
  }
  local instruction = vim.trim(opts.instruction or opts.args or '')
  if instruction ~= '' then
    args.instruction = instruction
  end
  client:exec_cmd({ title = 'chatls ' .. id, command = 'chatls.run', arguments = { args } }, { bufnr = bufnr }, function(err)
    if err then
      notify(id .. ' failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
    end
  end)
end

--- Run a built-in action (`:ChatlsExplain`, `:ChatlsRefactor [instruction]`, `:ChatlsFix
--- [instruction]`) on the range of a user command: the same as `:ChatlsRun {action}`.
---@param action 'explain'|'refactor'|'fix'
---@param opts { line1: integer, line2: integer, range: integer, args?: string }
function M.run(action, opts)
  M.run_action(action, opts)
end

--- Ask a free question about the range of a user command (`chatls.ask`); the answer goes to
--- the conversation's transcript, opened in a split.
---@param opts { line1: integer, line2: integer, range: integer, args?: string }
function M.ask(opts)
  local question = vim.trim(opts.args or '')
  if question == '' then
    notify('usage: :[range]ChatlsAsk {question}', vim.log.levels.ERROR)
    return
  end
  local bufnr = vim.api.nvim_get_current_buf()
  local client = client_for(bufnr)
  if not client then
    return
  end
  local args = {
    uri = vim.uri_from_bufnr(bufnr),
    range = M.command_range(bufnr, opts, client.offset_encoding),
    question = question,
  }
  client:exec_cmd({ title = 'chatls ask', command = 'chatls.ask', arguments = { args } }, { bufnr = bufnr }, function(err)
    if err then
      notify('ask failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
    end
  end)
end

--- Pick the model: with a name it switches at once; without, chatls asks with
--- window/showMessageRequest, which Neovim shows with vim.ui.select.
---@param name? string
function M.select_model(name)
  local bufnr = vim.api.nvim_get_current_buf()
  local client = client_for(bufnr)
  if not client then
    return
  end
  local arguments = {}
  name = vim.trim(name or '')
  if name ~= '' then
    arguments = { { model = name } }
  end
  client:exec_cmd({ title = 'chatls model', command = 'chatls.selectModel', arguments = arguments }, { bufnr = bufnr }, function(err)
    if err then
      notify('selectModel failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
    end
  end)
end

--- Run a per-document command (`cancel`, `resetConversation` or `followUp`) for the current buffer.
---@param command 'cancel'|'resetConversation'|'followUp'
---@param extra? table  more arguments (`{ action = 'change' }` sends a follow-up as a change)
function M.document_command(command, extra)
  local bufnr = vim.api.nvim_get_current_buf()
  local client = client_for(bufnr)
  if not client then
    return
  end
  local args = vim.tbl_extend('force', extra or {}, { uri = vim.uri_from_bufnr(bufnr) })
  client:exec_cmd({ title = 'chatls ' .. command, command = 'chatls.' .. command, arguments = { args } }, { bufnr = bufnr }, function(err)
    if err then
      notify(command .. ' failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
    end
  end)
end

--- Completion while typing from the chatls client in `bufnr`: ghost text through
--- `vim.lsp.inline_completion` on Neovim 0.12+ (accept with `vim.lsp.inline_completion.get()`,
--- mapped to <Tab> in init.lua), else chatls's item in `vim.lsp.completion` on 0.11 (shown
--- after `.` or `(`, or by hand with <C-x><C-o>). Set `vim.g.chatls_completion = false` to
--- keep it off. Returns 'inline', 'popup' or nil.
---@param client vim.lsp.Client
---@param bufnr integer
---@return 'inline'|'popup'|nil
function M.enable_completion(client, bufnr)
  if vim.g.chatls_completion == false then
    return nil
  end
  if vim.lsp.inline_completion and client:supports_method('textDocument/inlineCompletion', bufnr) then
    vim.lsp.inline_completion.enable(true, { bufnr = bufnr, client_id = client.id })
    return 'inline'
  end
  if vim.lsp.completion and client:supports_method('textDocument/completion', bufnr) then
    vim.lsp.completion.enable(true, client.id, bufnr, { autotrigger = true })
    return 'popup'
  end
  return nil
end

--- Text of one `$/progress` value, e.g. "Refactor: writing: ...". The server's titles
--- start with "chatls: " (for clients that show no source); that prefix is dropped here,
--- since the echo and the statusline put their own in front.
---@param value table
---@return string?
function M.progress_text(value)
  if type(value) ~= 'table' then
    return nil
  end
  local parts = {}
  local title = type(value.title) == 'string' and value.title:gsub('^chatls:%s*', '') or ''
  if title ~= '' then
    parts[#parts + 1] = title
  end
  if value.message and value.message ~= '' then
    parts[#parts + 1] = value.message
  end
  if #parts == 0 then
    return nil
  end
  local text = table.concat(parts, ': ')
  if value.percentage then
    text = text .. (' (%d%%)'):format(value.percentage)
  end
  return text
end

--- LspProgress autocmd callback: echo chatls's progress and remember it for the statusline.
---@param ev { data: { client_id: integer, params: { token: any, value: table } } }
function M.on_progress(ev)
  local client = vim.lsp.get_client_by_id(ev.data.client_id)
  if not client or client.name ~= 'chatls' then
    return
  end
  local value = ev.data.params.value
  local text = M.progress_text(value)
  if value.kind == 'end' then
    last_progress[client.id] = nil
  elseif text then
    last_progress[client.id] = text
  end
  if text then
    vim.api.nvim_echo({ { 'chatls: ' .. text } }, false, {})
  end
end

--- The latest progress message of any running chatls action, '' when idle.
---@return string
function M.status()
  for _, text in pairs(last_progress) do
    return 'chatls: ' .. text
  end
  return ''
end

--- What one `chatls.usage` entry says: "2 requests, 1,200 prompt (1,000 cached) + 80
--- completion tokens".
---@param entry table
---@return string
local function usage_words(entry)
  entry = type(entry) == 'table' and entry or {}
  local function n(key)
    local value = tonumber(entry[key]) or 0
    local digits = tostring(math.floor(value))
    return (digits:reverse():gsub('(%d%d%d)', '%1,'):reverse():gsub('^,', ''))
  end
  local requests = tonumber(entry.requests) or 0
  return ('%s request%s, %s prompt (%s cached) + %s completion tokens'):format(
    n('requests'),
    requests == 1 and '' or 's',
    n('promptTokens'),
    n('cachedTokens'),
    n('completionTokens')
  )
end

--- The lines `:ChatlsUsage` shows for a `chatls.usage` answer: the total, then each model's
--- actions and completions.
---@param report table
---@return string[]
function M.usage_lines(report)
  report = type(report) == 'table' and report or {}
  local lines = { 'chatls usage this session: ' .. usage_words(report.total) }
  local by_model = type(report.byModel) == 'table' and report.byModel or {}
  for model, kinds in vim.spairs(by_model) do
    kinds = type(kinds) == 'table' and kinds or {}
    lines[#lines + 1] = ('  %s: actions %s; completions %s'):format(
      model,
      usage_words(kinds.actions),
      usage_words(kinds.completions)
    )
  end
  return lines
end

--- `:ChatlsUsage`: the session's tokens per model and kind (`chatls.usage`), as a message.
function M.usage()
  local bufnr = vim.api.nvim_get_current_buf()
  local client = client_for(bufnr)
  if not client then
    return
  end
  client:exec_cmd({ title = 'chatls usage', command = 'chatls.usage' }, { bufnr = bufnr }, function(err, report)
    if err then
      notify('usage failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
      return
    end
    vim.notify(table.concat(M.usage_lines(report), '\n'), vim.log.levels.INFO)
  end)
end

--- The chatls client that showed each of its files (transcripts, review diffs), by path.
---@type table<string, integer>
local file_owners = {}

--- A file chatls wrote for you to read: a transcript or a review diff in its explanations
--- directory (`$XDG_CACHE_HOME/chatls/explanations`).
---@param path string
---@return boolean
function M.is_chatls_file(path)
  return file_owners[path] ~= nil or path:find('/chatls/explanations/', 1, true) ~= nil
end

--- `root_dir` of lsp/chatls.lua. A transcript or review diff lives in chatls's cache
--- directory, under no project: it joins the chatls client of the code it came from (the one
--- that showed it, else the first running), so `:ChatlsSend` continues that conversation
--- instead of starting a second chatls that knows nothing of it. Any other buffer gets its
--- root from `root_markers`, as usual.
---@param bufnr integer
---@param on_dir fun(root_dir?: string)
function M.root_dir(bufnr, on_dir)
  local path = vim.api.nvim_buf_get_name(bufnr)
  if M.is_chatls_file(path) then
    local owner = file_owners[path] and vim.lsp.get_client_by_id(file_owners[path])
      or vim.lsp.get_clients({ name = 'chatls' })[1]
    if owner and not owner:is_stopped() then
      vim.schedule(function()
        if vim.api.nvim_buf_is_valid(bufnr) then
          vim.lsp.buf_attach_client(bufnr, owner.id)
        end
      end)
      return
    end
  end
  on_dir(nil)
end

--- `window/showDocument` handler: chatls's own files (transcripts, markdown, and review
--- diffs) open in a vertical split beside the code, reusing the window that already shows
--- them; anything else goes to Neovim's default.
---@param err lsp.ResponseError?
---@param result lsp.ShowDocumentParams
---@param ctx lsp.HandlerContext
---@return lsp.ShowDocumentResult
function M.show_document(err, result, ctx)
  if err or type(result) ~= 'table' or type(result.uri) ~= 'string' then
    return { success = false }
  end
  local is_file = result.uri:match('^file:') and not result.external
  local is_ours = is_file and (result.uri:match('%.md$') or result.uri:match('%.diff$'))
  if not is_ours then
    return vim.lsp.handlers['window/showDocument'](err, result, ctx)
  end
  local path = vim.uri_to_fname(result.uri)
  -- Before the buffer opens: its LSP attach (root_dir above) looks the owner up.
  file_owners[path] = ctx.client_id
  local previous = vim.api.nvim_get_current_win()
  local ok, open_err = pcall(function()
    local bufnr = vim.fn.bufnr(path)
    local win = bufnr ~= -1 and vim.fn.bufwinid(bufnr) or -1
    if win ~= -1 then
      vim.api.nvim_set_current_win(win)
      -- chatls already put its answer into the open buffer (workspace/applyEdit); reload
      -- from disk only a buffer with nothing unsaved, so what you typed is never dropped.
      if not vim.bo[bufnr].modified then
        vim.cmd('silent edit')
      end
    else
      vim.cmd('vsplit ' .. vim.fn.fnameescape(path))
    end
    if path:match('%.md$') then
      vim.bo.filetype = 'markdown'
    end
  end)
  if not ok then
    notify('could not open ' .. path .. ': ' .. tostring(open_err), vim.log.levels.ERROR)
    return { success = false }
  end
  if result.takeFocus == false and vim.api.nvim_win_is_valid(previous) then
    vim.api.nvim_set_current_win(previous)
  end
  return { success = true }
end

return M
