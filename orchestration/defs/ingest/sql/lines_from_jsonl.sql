-- $1 organization, $2 path as recorded, $3 file sha256, $4 path to read
insert into landing_lines
select $1, $2, $3, line_number, rtrim(raw_line, chr(13))
from (
    select unnest(lines) as raw_line, unnest(range(1, len(lines) + 1)) as line_number
    from (select string_split(content, chr(10)) as lines from read_text($4))
)
where trim(raw_line) <> '';
